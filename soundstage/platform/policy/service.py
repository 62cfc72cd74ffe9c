"""The content policy at the doors: `check_content` (422 on a refusal) and `screen` (previews).

    check_content(settings, {"prompt": request.prompt, "lyrics": request.lyrics})

The rules are the shipped defaults merged with SOUNDSTAGE_CONTENT_RULES_PATH when
set (see docs/governance.md), compiled once and compiled again when the file changes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from soundstage.config import Settings
from soundstage.platform.errors import AppError
from soundstage.platform.policy.rules import Finding, Policy, RulesError, default_data, load_file

DEFAULT_SOURCE = "default_rules.json"


class ContentRefused(AppError):
    """422: a text breaks the content policy; says which category, why, and in which field."""

    status = 422

    def __init__(self, finding: Finding) -> None:
        message = f"prompt refused: {finding.category} — {finding.reason}"
        if finding.field != "prompt":
            message += f" (in {finding.field})"
        super().__init__(message)
        self.category = finding.category
        self.field = finding.field
        self.reason = finding.reason
        self.match = finding.match
        self.finding = finding

    def body(self) -> dict[str, Any]:
        return {"detail": self.message, "category": self.category, "field": self.field}


_lock = threading.Lock()
_cache: dict[tuple[str, int, int] | None, Policy] = {}


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except OSError as exc:
        raise RulesError(
            f"{path}: cannot read the content rules file (SOUNDSTAGE_CONTENT_RULES_PATH): "
            f"{exc.strerror or exc}"
        ) from None
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


def load_policy(settings: Settings) -> Policy:
    """The policy in force: defaults, merged with the operator's rules file when set."""
    path = settings.content_rules_path
    key = _file_key(path) if path is not None else None
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    layers = [default_data()]
    if path is not None:
        layers.append(load_file(path.read_text("utf-8"), str(path)))
    policy = Policy.from_data(*layers, source=str(path) if path else DEFAULT_SOURCE)
    with _lock:
        if len(_cache) > 16:  # old versions of an edited file
            _cache.clear()
        _cache[key] = policy
    return policy


def texts_of(fields: Mapping[str, str | None]) -> dict[str, str]:
    """The fields that carry text (None and blank ones dropped)."""
    return {name: text for name, text in fields.items() if text and text.strip()}


def screen(settings: Settings, fields: Mapping[str, str | None]) -> list[Finding]:
    """Every category each field breaks (empty when all is well or the policy is off)."""
    if not settings.content_policy_enabled:
        return []
    return load_policy(settings).screen(texts_of(fields))


def check_content(settings: Settings, fields: Mapping[str, str | None]) -> None:
    """Raise ContentRefused (422) for the first field that breaks the policy.

    `fields` maps a field name the user knows ("prompt", "lyrics", "script",
    "sections.2.prompt_note") to its text; None and empty texts are skipped.
    """
    findings = screen(settings, fields)
    if findings:
        raise ContentRefused(findings[0])

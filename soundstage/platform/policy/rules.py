"""Content rules: categories of term lists and patterns, matched on normalized text.

Pure: no database, web or settings. A `Policy` is built from JSON-shaped data
(the shipped `default_rules.json`, optionally merged with an operator's file) and
screens named text fields:

    policy = Policy.from_data(default_data())
    policy.screen({"prompt": "rain on a tin roof"})   # -> [] (nothing found)

Matching works on a normalized copy of the text, so trivial disguises do not get
through: accents are dropped ("é" → "e"), case is folded, leetspeak inside words
is read as letters ("k1ll" → "kill", "h@te" → "hate"), zero-width characters are
removed and spaced-out letters are joined ("k.i.l.l" → "kill"). Terms match whole
words only, so "Scunthorpe" or "assassin" never match a shorter term inside them.
Patterns that look for personal data run on the original text instead (`"on":
"raw"`), where digits and "@" keep their meaning.
"""

from __future__ import annotations

import json
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# --- normalization ------------------------------------------------------------------------

LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "`": "'"})
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
_TOKEN = re.compile(r"[a-z0-9@$!]+")
_SPACED = re.compile(r"(?<![a-z0-9])(?:[a-z][ ._*\-]){2,}[a-z](?![a-z0-9])")
_SPACED_SEPARATORS = re.compile(r"[ ._*\-]")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
MAX_MATCH_CHARS = 80


def strip_accents(text: str) -> str:
    """Compatibility forms folded (fullwidth → ASCII) and accents dropped: "Café" → "Cafe"."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _unleet_token(token: str) -> str:
    """Read leet characters as letters when they sit inside a word.

    A run of leet characters next to letters is read ("k1ll", "$hit", "a$$"), except
    "!" at a word's edge, which is punctuation ("kill!"). Numbers ("12", "12yo",
    "2024") stay: a run must touch a letter.
    """
    if not any(c.isalpha() for c in token):
        return token
    out: list[str] = []
    i = 0
    while i < len(token):
        if token[i] not in LEET:
            out.append(token[i])
            i += 1
            continue
        j = i
        while j < len(token) and token[j] in LEET:
            j += 1
        run = token[i:j]
        before = token[i - 1].isalpha() if i > 0 else None
        after = token[j].isalpha() if j < len(token) else None
        inside = before is True and after is True
        at_edge = (before is None and after is True) or (after is None and before is True)
        if inside or (at_edge and "!" not in run):
            out.append("".join(LEET[c] for c in run))
        else:
            out.append(run)
        i = j
    return "".join(out)


def normalize(text: str) -> str:
    """The form rules match against: no accents, casefolded, leet read, spacing collapsed."""
    text = _INVISIBLE.sub("", strip_accents(text)).translate(_QUOTES).casefold()
    text = _TOKEN.sub(lambda m: _unleet_token(m.group(0)), text)
    return _SPACED.sub(lambda m: _SPACED_SEPARATORS.sub("", m.group(0)), text)


def raw_form(text: str) -> str:
    """The form `"on": "raw"` patterns see: compatibility forms folded, nothing else."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).translate(_QUOTES)


# --- the rules file shape -----------------------------------------------------------------

Validator = Literal["luhn", "phone", "iban"]


class RuleSpec(BaseModel):
    """One rule: exactly one of `terms`, `pattern` or `near`."""

    model_config = ConfigDict(extra="forbid")

    terms: list[str] | None = Field(None, description="Words or phrases; 'word*' is a prefix")
    pattern: str | None = Field(None, description="A regular expression; <<list>> expands a list")
    near: list[list[str]] | None = Field(
        None, description="Two term groups that must occur within `within` words of each other"
    )
    within: int = Field(6, ge=0, le=50)
    on: Literal["normalized", "raw"] = "normalized"
    validator: Validator | None = Field(None, description="Extra check of each pattern match")

    @model_validator(mode="after")
    def _one_kind(self) -> RuleSpec:
        kinds = [k for k in ("terms", "pattern", "near") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a rule needs exactly one of: terms, pattern, near")
        if self.near is not None and len(self.near) != 2:
            raise ValueError("near needs exactly two term groups")
        if self.validator and self.pattern is None:
            raise ValueError("validator applies to pattern rules only")
        return self


class CategorySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, min_length=1, max_length=500)
    enabled: bool = True
    extend: bool = Field(False, description="Add these rules to the default ones instead")
    rules: list[RuleSpec] | None = None


class RulesFile(BaseModel):
    """The JSON shape of `default_rules.json` and of SOUNDSTAGE_CONTENT_RULES_PATH."""

    model_config = ConfigDict(extra="forbid")

    replace_defaults: bool = Field(False, description="Start from no categories at all")
    lists: dict[str, list[str]] = Field(default_factory=dict)
    categories: dict[str, CategorySpec] = Field(default_factory=dict)


class RulesError(ValueError):
    """A rules file that cannot be used; the message says where and why."""


# --- compiled rules -----------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One category found in one field: what to show the user and what matched."""

    category: str
    field: str
    reason: str
    match: str = ""
    source: str = "rules"


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    text: str


def _term_regex(term: str) -> str:
    """A term as a regex over normalized text: any separator between its words."""
    prefix = term.endswith("*")
    words = normalize(term.rstrip("*")).split()
    if not words:
        raise RulesError(f"empty term {term!r}")
    body = r"[\s\-_./]+".join(re.escape(w) for w in words)
    return body + (r"[a-z0-9]*" if prefix else "")


def _alternation(terms: Iterable[str]) -> str:
    parts = sorted({_term_regex(t) for t in terms}, key=len, reverse=True)
    return "(?:" + "|".join(parts) + ")"


def _bounded(inner: str) -> str:
    return rf"(?<![a-z0-9]){inner}(?![a-z0-9])"


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _iban(text: str) -> bool:
    code = re.sub(r"\s", "", text).upper()
    if not 15 <= len(code) <= 34:
        return False
    moved = code[4:] + code[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def check_validator(name: str | None, text: str) -> bool:
    """Whether a pattern match passes its validator (always, without one)."""
    if name is None:
        return True
    digits = re.sub(r"\D", "", text)
    if name == "luhn":
        return 13 <= len(digits) <= 19 and _luhn(digits)
    if name == "phone":
        return 9 <= len(digits) <= 15
    if name == "iban":
        return _iban(text)
    raise RulesError(f"unknown validator {name!r}")


class Rule:
    """A compiled rule; `hits(normalized, raw)` returns where it matched."""

    def __init__(self, spec: RuleSpec, lists: Mapping[str, list[str]]) -> None:
        self.on = spec.on
        self.validator = spec.validator
        self.within = spec.within
        self._near: tuple[re.Pattern[str], re.Pattern[str]] | None = None
        flags = re.IGNORECASE
        if spec.terms is not None:
            self._regex = re.compile(_bounded(_alternation(spec.terms)), flags)
        elif spec.pattern is not None:
            self._regex = re.compile(_expand_lists(spec.pattern, lists), flags)
        else:
            assert spec.near is not None
            first, second = (re.compile(_bounded(_group(g, lists)), flags) for g in spec.near)
            self._near = (first, second)
            self._regex = first

    def hits(self, normalized: str, raw: str) -> list[_Hit]:
        text = raw if self.on == "raw" else normalized
        if self._near is not None:
            return self._near_hits(text)
        found = []
        for m in self._regex.finditer(text):
            if m.end() > m.start() and check_validator(self.validator, m.group(0)):
                found.append(_Hit(m.start(), m.end(), m.group(0)))
        return found

    def _near_hits(self, text: str) -> list[_Hit]:
        assert self._near is not None
        starts = [m.start() for m in _WORD.finditer(text)]
        second = [(bisect_right(starts, m.start()), m) for m in self._near[1].finditer(text)]
        indexes = [index for index, _ in second]  # ascending, as the matches are
        for a in self._near[0].finditer(text):
            index_a = bisect_right(starts, a.start())
            low = bisect_left(indexes, index_a - self.within - 1)
            high = bisect_right(indexes, index_a + self.within + 1)
            for _, b in second[low:high]:  # only the matches close enough
                if b.start() != a.start():
                    start, end = min(a.start(), b.start()), max(a.end(), b.end())
                    return [_Hit(start, end, text[start:end])]
        return []


def _group(terms: list[str], lists: Mapping[str, list[str]]) -> str:
    """A near-group: plain terms, `<<list>>` references and `re:` regexes."""
    plain: list[str] = []
    parts: list[str] = []
    for term in terms:
        if term.startswith("re:"):
            parts.append(f"(?:{term[3:]})")
        elif term.startswith("<<") and term.endswith(">>"):
            plain.extend(_list(term[2:-2], lists))
        else:
            plain.append(term)
    if plain:
        parts.append(_alternation(plain))
    return "(?:" + "|".join(parts) + ")"


def _list(name: str, lists: Mapping[str, list[str]]) -> list[str]:
    if name not in lists or not lists[name]:
        raise RulesError(f'unknown or empty list <<{name}>>; define it under "lists"')
    return lists[name]


def _expand_lists(pattern: str, lists: Mapping[str, list[str]]) -> str:
    return re.sub(r"<<([\w-]+)>>", lambda m: _alternation(_list(m.group(1), lists)), pattern)


@dataclass
class Category:
    name: str
    reason: str
    rules: list[Rule] = field(default_factory=list)
    enabled: bool = True

    def first_hit(self, normalized: str, raw: str) -> _Hit | None:
        for rule in self.rules:
            hits = rule.hits(normalized, raw)
            if hits:
                return hits[0]
        return None


@dataclass
class Policy:
    """Named categories in order; `screen` reports at most one finding per category and field."""

    categories: dict[str, Category]

    @classmethod
    def from_data(cls, *layers: Mapping[str, Any] | RulesFile, source: str = "rules") -> Policy:
        """Merge rule layers (defaults first, then an operator's file) and compile them."""
        files = [_parse(layer, source) for layer in layers]
        lists: dict[str, list[str]] = {}
        merged: dict[str, CategorySpec] = {}
        for data in files:
            if data.replace_defaults:
                merged.clear()
            lists.update(data.lists)
            for name, spec in data.categories.items():
                merged[name] = _merge_category(name, merged.get(name), spec, source)
        try:
            categories = {
                name: Category(
                    name=name,
                    reason=spec.reason or name,
                    rules=[Rule(r, lists) for r in spec.rules or []],
                    enabled=spec.enabled,
                )
                for name, spec in merged.items()
            }
        except re.error as exc:
            raise RulesError(f"{source}: bad regular expression: {exc}") from exc
        except RulesError as exc:
            raise RulesError(f"{source}: {exc}") from exc
        return cls(categories)

    def enabled(self) -> list[Category]:
        return [c for c in self.categories.values() if c.enabled]

    def reason(self, category: str) -> str:
        found = self.categories.get(category)
        return found.reason if found else category

    def screen(self, fields: Mapping[str, str | None]) -> list[Finding]:
        """Every enabled category found, field by field in the order given."""
        findings: list[Finding] = []
        for name, text in fields.items():
            if not text or not text.strip():
                continue
            normalized, raw = normalize(text), raw_form(text)
            for category in self.enabled():
                hit = category.first_hit(normalized, raw)
                if hit is not None:
                    snippet = hit.text.strip()[:MAX_MATCH_CHARS]
                    findings.append(Finding(category.name, name, category.reason, snippet))
        return findings


def _parse(layer: Mapping[str, Any] | RulesFile, source: str) -> RulesFile:
    if isinstance(layer, RulesFile):
        return layer
    try:
        return RulesFile.model_validate(layer)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()
        )
        raise RulesError(f"{source}: {problems}") from None


def _merge_category(
    name: str, base: CategorySpec | None, spec: CategorySpec, source: str
) -> CategorySpec:
    """A file's category over the one before it: disable, extend, or replace."""
    if base is None:
        if spec.enabled and not (spec.reason and spec.rules):
            raise RulesError(f"{source}: new category {name!r} needs a reason and rules")
        return spec
    rules = spec.rules
    if spec.extend:
        rules = [*(base.rules or []), *(spec.rules or [])]
    elif rules is None:
        rules = base.rules
    return CategorySpec(reason=spec.reason or base.reason, enabled=spec.enabled, rules=rules)


def default_data() -> dict[str, Any]:
    """The shipped default rules (`default_rules.json` next to this module)."""
    text = resources.files(__package__).joinpath("default_rules.json").read_text("utf-8")
    return json.loads(text)


def load_file(text: str, source: str) -> dict[str, Any]:
    """Parse a rules file's JSON text, with the file named in errors."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RulesError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RulesError(f"{source}: the top level must be a JSON object")
    return data

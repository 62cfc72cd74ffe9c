"""Jinja2 templates of the web studio: autoescaped, with display filters and a strict CSP."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from starlette.templating import Jinja2Templates

from soundstage import __version__

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
VENDOR_DIR = STATIC_DIR / "vendor" / "node_modules"

# The files served from the npm packages (see static/vendor/package.json).
VENDOR_FILES = {
    "htmx": "htmx.org/dist/htmx.min.js",
    "wavesurfer": "wavesurfer.js/dist/wavesurfer.min.js",
    "chart": "chart.js/dist/chart.umd.min.js",
    "wavesurfer_regions": "wavesurfer.js/dist/plugins/regions.min.js",
    "wavesurfer_timeline": "wavesurfer.js/dist/plugins/timeline.min.js",
}

# Scripts only from this origin (no inline script: user text can never run);
# inline style attributes are allowed (progress widths, wavesurfer's shadow DOM).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def missing_vendor_files() -> list[str]:
    return [path for path in VENDOR_FILES.values() if not (VENDOR_DIR / path).is_file()]


def vendor_url(name: str) -> str:
    return f"/static/vendor/node_modules/{VENDOR_FILES[name]}"


def static_url(path: str) -> str:
    return f"/static/{path}?v={__version__}"


def human_bytes(value: float | int | None) -> str:
    size = float(value or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover


def human_duration(seconds: float | int | None) -> str:
    """'0:45', '12:05' or '1:02:03'."""
    total = round(float(seconds or 0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def human_seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} s" if value < 90 else human_duration(value)


def when(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def json_script(value: Any) -> Markup:
    """JSON safe to put inside <script type="application/json"> (no `<`, `>`, `&`)."""
    text = json.dumps(value, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
templates.env.globals.update(vendor_url=vendor_url, static_url=static_url)
templates.env.filters.update(
    bytes=human_bytes, duration=human_duration, seconds=human_seconds, when=when, iso=iso,
    json_script=json_script, dict_merge=lambda base, **more: {**base, **more},
)  # fmt: skip


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page or fragment; every response carries the CSP and is never cached."""
    ctx = {"request": request, **(context or {})}
    ctx.setdefault("user", None)
    ctx.setdefault("settings", request.app.state.settings)
    response = templates.TemplateResponse(
        request, name, ctx, status_code=status_code, headers=headers
    )
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response

"""The public page of a shared music video: a player, no login, no script.

A client of the music video service like the API; the files it plays come from
the public /api/share/{token}/... routes.
"""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from soundstage.platform.deps import SessionDep
from soundstage.workflows.music_video import service

router = APIRouter(tags=["web"])

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Soundstage</title>
<meta property="og:title" content="{title}">
<meta property="og:type" content="video.other">
<meta property="og:image" content="{files}/poster.jpg">
<meta property="og:video" content="{files}/video.mp4">
<style>
  body {{ margin: 0; background: #0b0b10; color: #eee; font: 16px/1.4 system-ui, sans-serif;
         display: grid; place-items: center; min-height: 100vh; }}
  main {{ width: min(96vw, {max_width}px); }}
  video {{ width: 100%; max-height: 88vh; background: #000; border-radius: 8px; }}
  h1 {{ font-size: 1.1rem; font-weight: 600; margin: .6rem 0; }}
</style>
</head>
<body>
<main>
  <video controls playsinline preload="metadata" poster="{files}/poster.jpg">
    <source src="{files}/video.mp4" type="video/mp4">{track}
  </video>
  <h1>{title}</h1>
</main>
</body>
</html>
"""


@router.get("/v/{token}", response_class=HTMLResponse, include_in_schema=False)
def share_page(token: str, session: SessionDep) -> HTMLResponse:
    video = service.shared_video(session, token)
    files = f"/api/share/{html.escape(token, quote=True)}"
    track = ""
    if video.captions_key:
        track = (
            f'\n    <track kind="captions" src="{files}/lyrics.vtt" srclang="en" '
            'label="Lyrics" default>'
        )
    max_width = 1100 if video.width >= video.height else 480
    return HTMLResponse(
        PAGE.format(title=html.escape(video.title), files=files, track=track, max_width=max_width)
    )

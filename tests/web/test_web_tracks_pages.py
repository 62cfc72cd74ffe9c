"""Server-side tests of the track platform pages: login redirects, the create form with its live
credit cost, escaping of user text, the track page's panel (publish, new cover, preview and
stems), the public page and the styles editor."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from soundstage.platform.accounts.service import get_user_by_email
from soundstage.workflows.ambient.models import Track, TrackStatus
from soundstage.workflows.ambient.pipeline import track_prefix
from soundstage.workflows.tracks import service
from soundstage.workflows.tracks.pipeline import cover_name, cover_png

ORIGIN = {"origin": "http://testserver"}
HX = {"hx-request": "true"}
PAGE = {**ORIGIN, **HX}
PASSWORD = "a long password 1"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
UI = "/ui/track-platform"


@pytest.fixture
def settings(tmp_path: Path):
    from tests.conftest import make_settings

    return make_settings(tmp_path / "data", free_daily_tracks=100)


def register(client, email: str = "me@example.com"):
    return client.post(
        "/register",
        data={"email": email, "password": PASSWORD, "password_again": PASSWORD},
        headers=ORIGIN,
        follow_redirects=False,
    )


@pytest.fixture
def browser_client(client):
    """The test client logged in through the register page (it keeps the session cookie)."""
    assert register(client).status_code == 303
    return client


def owner_id(client, email: str = "me@example.com") -> str:
    with client.app.state.db.session() as session:
        return get_user_by_email(session, email).id


def add_ready_track(client, owner: str, **fields) -> str:
    """A ready song track row with small files and a real cover in storage (no job runs)."""
    storage, _settings = client.app.state.storage, client.app.state.settings
    with client.app.state.db.session() as session:
        series = service.ensure_default_series(session, owner)
        values = {"owner_id": owner, "kind": "song", "title": "Night walk",
                  "prompt": "late night city walk", "genre": "lofi", "duration_s": 8.0, "seed": 3,
                  "style_strength": 0.5, "key": "F#", "mode": "minor", "bpm": 96.0,
                  "status": TrackStatus.READY, "credits_required": 1, "series_id": series.id}  # fmt: skip
        values.update(fields)
        track = Track(**values)
        session.add(track)
        session.flush()
        prefix = track_prefix(owner, track.id)
        files = {}
        for kind, name, data in (
            ("mp3", "track.mp3", b"ID3" + b"\0" * 200),
            ("preview", "preview.mp3", b"ID3" + b"\0" * 100),
            ("stems", "stems.zip", b"PK\x05\x06" + b"\0" * 18),
            ("cover", cover_name(1), cover_png(series, track.id, 1, 256)),
        ):
            storage.put_bytes(prefix + name, data)
            files[kind] = {"key": prefix + name, "name": name, "size": len(data)}
        track.files = files
        session.commit()
        return track.id


# -- login and access ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/tracks/new", "/styles"])
def test_pages_redirect_to_login_when_logged_out(client, path):
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"
    r = client.get("/tracks", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/tracks/new"


def test_ui_routes_need_a_session_and_our_origin(browser_client):
    r = browser_client.post(f"{UI}/tracks", data={"prompt": "x", "duration_s": "5"})
    assert r.status_code == 403  # no Origin, no htmx header: a cross-site form
    r = browser_client.post(f"{UI}/tracks", data={"prompt": "x", "duration_s": "5"},
                            headers={"origin": "https://evil.example"})  # fmt: skip
    assert r.status_code == 403
    browser_client.cookies.clear()
    r = browser_client.get(f"{UI}/cost-preview?duration_s=30")
    assert r.status_code == 401


# -- the tracks page and the create form ---------------------------------------------------------


def test_new_track_page_shows_the_form_with_the_credit_cost(browser_client):
    r = browser_client.get("/tracks/new")
    assert r.status_code == 200
    assert 'id="track-form"' in r.text and "Default (default)" in r.text
    assert "1 credit</strong>" in r.text and "400 → 399" in r.text
    assert 'aria-current="page">Tracks' in r.text
    assert "none is configured on this server" in r.text  # vocals are honest up front


@pytest.mark.parametrize(
    ("duration", "shown"),
    [("95", "4 credits</strong>"), ("abc", "Enter a duration"), ("601", "Enter a duration"),
     ("61", "free plan")],
)  # fmt: skip
def test_cost_preview_follows_the_duration(browser_client, duration, shown):
    r = browser_client.get(f"{UI}/cost-preview", params={"duration_s": duration}, headers=HX)
    assert r.status_code == 200 and shown in r.text


def test_create_form_queues_a_track_with_live_progress_and_escapes_the_prompt(browser_client):
    data = {"prompt": f"rain {XSS}", "duration_s": "5", "genre": "piano", "style_strength": "0.7"}
    r = browser_client.post(f"{UI}/tracks", data=data, headers=PAGE)
    assert r.status_code == 200, r.text
    assert 'class="job"' in r.text and "data-job-id=" in r.text
    assert XSS not in r.text and "&lt;script&gt;" in r.text
    assert 'id="cost-preview"' in r.text and "399 → 398" in r.text  # the cost, refreshed
    listed = browser_client.get("/tracks/new").text
    assert "&lt;script&gt;" in listed and XSS not in listed


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"prompt": "x", "duration_s": "4"}, "duration_s:"),
        ({"prompt": "x", "duration_s": "10", "has_vocals": "on"}, "singing provider"),
        ({"prompt": "in the style of Taylor Swift", "duration_s": "10"}, "refused"),
        ({"prompt": "x", "duration_s": "10", "reference_song_id": "nope"}, "song not found"),
    ],
)
def test_create_form_errors_are_shown_next_to_the_form(browser_client, data, message):
    r = browser_client.post(f"{UI}/tracks", data=data, headers=PAGE)
    assert r.status_code == 200 and r.headers["hx-retarget"] == "#track-errors"
    assert message in r.text
    with browser_client.app.state.db.session() as session:
        assert session.query(Track).count() == 0


def test_reference_upload_queues_its_analysis(browser_client, tmp_path):
    wav = tmp_path / "ref.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:d=3",
                    str(wav)], check=True)  # fmt: skip
    with wav.open("rb") as fh:
        r = browser_client.post(f"{UI}/reference", files={"file": ("ref.wav", fh, "audio/wav")},
                                headers=PAGE)  # fmt: skip
    assert r.status_code == 200, r.text
    assert 'id="reference-slot"' in r.text and "Analysing ref.wav" in r.text
    assert "data-job-id=" in r.text
    r = browser_client.post(f"{UI}/reference", files={"file": ("notes.txt", b"hello", "text/plain")},
                            headers=PAGE)  # fmt: skip
    assert r.status_code == 200 and 'class="error"' in r.text


# -- the track page ------------------------------------------------------------------------------


def test_track_page_panel_preview_stems_publish_cover_and_escaping(browser_client):
    tid = add_ready_track(browser_client, owner_id(browser_client), prompt=f"city {XSS}",
                          title=f"Walk {XSS}", lyrics=f"la la {XSS}")  # fmt: skip
    page = browser_client.get(f"/tracks/{tid}")
    assert page.status_code == 200
    assert XSS not in page.text and "&lt;script&gt;" in page.text
    assert 'id="track-platform"' in page.text and "lofi" in page.text
    assert f'src="/tracks/{tid}/files/preview"' in page.text
    for kind in ("preview", "stems-zip"):
        assert f'data-kind="{kind}"' in page.text
    for kind in ("preview", "stems", "cover"):
        r = browser_client.get(f"/tracks/{tid}/files/{kind}", params={"download": 1})
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert browser_client.get(f"/tracks/{tid}/files/stems").headers["content-type"] == (
        "application/zip"
    )

    r = browser_client.post(f"{UI}/tracks/{tid}/publish", data={"public": "1"}, headers=PAGE)
    assert r.status_code == 200 and f'href="/t/{tid}"' in r.text and "Make private" in r.text
    r = browser_client.post(f"{UI}/tracks/{tid}/visual-version", headers=PAGE)
    assert r.status_code == 200 and "data-visual-version>2<" in r.text
    cover = browser_client.get(f"/tracks/{tid}/files/cover").content
    assert Image.open(io.BytesIO(cover)).size == (1024, 1024)
    r = browser_client.post(f"{UI}/tracks/{tid}/publish", data={"public": "0"}, headers=PAGE)
    assert "Publish</button>" in r.text


def test_publishing_a_track_that_is_not_ready_is_refused_in_place(browser_client):
    tid = add_ready_track(browser_client, owner_id(browser_client), status="queued")
    r = browser_client.post(f"{UI}/tracks/{tid}/publish", data={"public": "1"}, headers=PAGE)
    assert r.status_code == 200 and "only a ready track can be published" in r.text


def test_ambient_tracks_get_the_publish_and_cover_panel_too(browser_client):
    with browser_client.app.state.db.session() as session:
        ambient = Track(owner_id=owner_id(browser_client), title="Ocean drift", prompt="ocean",
                        status="ready", duration_s=60.0, seed=1)  # fmt: skip
        session.add(ambient)
        session.commit()
        ambient_id = ambient.id
    r = browser_client.get(f"/tracks/{ambient_id}")
    assert r.status_code == 200 and "Ocean drift" in r.text and "Render video" in r.text
    assert "New visual version" in r.text and "Publish</button>" in r.text
    assert 'id="song-h"' not in r.text  # the genre section is for song tracks only


def test_public_page_needs_no_login_and_hides_private_tracks(browser_client):
    owner = owner_id(browser_client)
    tid = add_ready_track(browser_client, owner, title=f"Public {XSS}", public=True)
    private = add_ready_track(browser_client, owner, title="Secret")
    browser_client.cookies.clear()
    page = browser_client.get(f"/t/{tid}")
    assert page.status_code == 200
    assert XSS not in page.text and "&lt;script&gt;" in page.text
    assert f'src="/api/public/tracks/{tid}/files/mp3"' in page.text
    assert "me@example.com" not in page.text and "Log out" not in page.text
    assert browser_client.get(f"/api/public/tracks/{tid}/files/cover").status_code == 200
    missing = browser_client.get(f"/t/{private}")
    assert missing.status_code == 404 and "Secret" not in missing.text
    assert browser_client.get("/t/nope").status_code == 404


def test_another_users_track_is_a_404_everywhere(browser_client):
    tid = add_ready_track(browser_client, owner_id(browser_client))
    browser_client.cookies.clear()
    assert register(browser_client, "other@example.com").status_code == 303
    assert browser_client.get(f"/tracks/{tid}").status_code == 404
    assert browser_client.get(f"/tracks/{tid}/files/mp3").status_code == 404
    for action in ("publish", "visual-version"):
        r = browser_client.post(f"{UI}/tracks/{tid}/{action}", data={"public": "1"}, headers=PAGE)
        assert r.status_code == 404


# -- styles ----------------------------------------------------------------------------------------


def test_styles_page_editor_preview_save_and_locked_motifs(browser_client):
    page = browser_client.get("/styles")
    assert page.status_code == 200
    assert "Style seed" in page.text and "orbits" in page.text
    assert "unlocks at 1 tracks" in page.text  # waves, still locked
    with browser_client.app.state.db.session() as session:
        series = service.ensure_default_series(session, owner_id(browser_client))
        session.commit()
    sid = series.id
    fragment = browser_client.get(f"/ui/series/{sid}/preview",
                                  params={"hue_0": "10", "motif": "weave", "shape_count": "4"},
                                  headers=HX)  # fmt: skip
    assert fragment.status_code == 200 and "data-preview" in fragment.text
    src = fragment.text.split('src="')[1].split('"')[0].replace("&amp;", "&")
    png = browser_client.get(src)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"

    form = {"name": f"Main {XSS}", "motif": "orbits", "hue_0": "20", "hue_1": "40",
            "hue_2": "200", "luminance": "0.5", "saturation": "0.4", "stroke_width": "3",
            "rotation": "10", "gradient_angle": "90", "shape_count": "9"}  # fmt: skip
    r = browser_client.post(f"/ui/series/{sid}", data=form, headers=PAGE)
    assert r.status_code == 200 and "Saved." in r.text and "&lt;script&gt;" in r.text
    r = browser_client.post(f"/ui/series/{sid}", data={**form, "motif": "prism"}, headers=PAGE)
    assert "unlocks after 5 completed tracks" in r.text
    r = browser_client.post(f"/ui/series/{sid}", data={**form, "saturation": "3"}, headers=PAGE)
    assert "saturation" in r.text and 'class="error"' in r.text

    r = browser_client.post("/ui/series", data={"name": "Second", "motif": "orbits"}, headers=PAGE)
    assert r.status_code == 200 and "Second" in r.text and 'id="series-list"' in r.text
    r = browser_client.post("/ui/series", data={"name": "Second"}, headers=PAGE)
    assert r.headers["hx-retarget"] == "#series-errors" and "already have" in r.text
    r = browser_client.post(f"/ui/series/{sid}/delete", headers=PAGE)
    assert r.headers["hx-retarget"] == "#series-errors" and "cannot be deleted" in r.text

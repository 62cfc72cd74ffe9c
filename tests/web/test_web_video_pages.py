"""Server-side tests of the music video pages: login redirects, the pages of a song, its
analysis and section editor, the player, the library and the public share page; the
/ui/api routes (the JSON API by session cookie); another user's 404; escaping."""

from __future__ import annotations

import io
import json
import math
import re
import struct
import wave

import pytest

from soundstage.workflows.music_video import service as video_service
from soundstage.workflows.music_video.models import MusicVideo, VideoStatus
from soundstage.workflows.music_video.pipeline import video_prefix
from soundstage.workflows.songs.models import Song, SongAnalysis, SongStatus
from tests.web.test_web_pages import HX, ORIGIN, XSS, owner_id

ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
DURATION = 30.0
BEAT = 0.6  # 100 BPM


def fake_analysis(**more) -> dict:
    beats = [round(i * BEAT, 3) for i in range(int(DURATION / BEAT))]
    data = {
        "duration_s": DURATION, "bpm": 100.0, "bpm_confidence": 0.9, "beats": beats,
        "downbeats": beats[::4], "meter": 4, "key": "A", "mode": "minor", "key_confidence": 0.8,
        "loudness_lufs": -14.2, "energy_curve": [0.5 + 0.4 * math.sin(i / 20) for i in range(300)],
        "energy_curve_hz": 10.0, "energy": 0.62, "danceability": 0.7, "valence": 0.4,
        "genre": "electronic", "mood_primary": "energetic", "mood_tags": ["energetic", "dark"],
        "sections": [], "lyrics": [], "warnings": [],
        "suggested_sections": [{"start": 0.0, "end": 12.0, "label": "intro"},
                               {"start": 12.0, "end": DURATION, "label": "chorus"}],
    }  # fmt: skip
    data.update(more)
    return data


def add_song(client, owner: str, *, filename: str = "river.mp3", analyzed: bool = True) -> str:
    """A song row (with a small file in storage) and, if `analyzed`, its analysis."""
    with client.app.state.db.session() as session:
        song = Song(owner_id=owner, filename=filename, content_type="audio/mpeg", format="mp3",
                    codec="mp3", duration_s=DURATION, sample_rate=44100, channels=2,
                    bitrate_kbps=192.0, size_bytes=100, tags={}, original_key="",
                    status=SongStatus.ANALYZED if analyzed else SongStatus.UPLOADED,
                    bpm=100.0 if analyzed else None)  # fmt: skip
        session.add(song)
        session.flush()
        song.original_key = f"users/{owner}/songs/{song.id}/original.mp3"
        client.app.state.storage.put_bytes(song.original_key, b"ID3" + b"\0" * 97)
        if analyzed:
            session.add(SongAnalysis(song_id=song.id, result=fake_analysis(), analysis_s=1.0))
        session.commit()
        return song.id


def add_video(client, owner: str, song_id: str, *, title: str = "River", label: str = "intro",
              shared: bool = False) -> str:  # fmt: skip
    """Sections, a clip plan and a composed (ready) video, without running a job."""
    app = client.app
    storage = app.state.storage
    with app.state.db.session() as session:
        sections = [
            video_service.SectionIn(start=0.0, end=12.0, label=label, prompt_note="mist"),
            video_service.SectionIn(start=12.0, end=DURATION, label="chorus"),
        ]
        video_service.create_sections(session, app.state.settings, owner, song_id, sections)
        video_service.plan_clips(session, app.state.settings, owner, song_id)
        video = MusicVideo(song_id=song_id, owner_id=owner, title=title, video_type="flow",
                           aspect="16:9", width=1920, height=1080, fps=12, prompt="rivers",
                           seed=1, status=VideoStatus.READY, version=1, duration_s=DURATION,
                           file_size_bytes=10)  # fmt: skip
        session.add(video)
        session.flush()
        base = video_prefix(video)
        for name, data in (("video.mp4", b"\0\0\0\x18ftypisom"), ("poster.jpg", b"\xff\xd8"),
                           ("lyrics.vtt", b"WEBVTT\n\n00:00.000 --> 00:02.000\nlight\n")):  # fmt: skip
            storage.put_bytes(base + name, data)
        video.video_key, video.poster_key = base + "video.mp4", base + "poster.jpg"
        video.captions_key = base + "lyrics.vtt"
        if shared:
            video.share_token = "tok-" + video.id
        session.commit()
        return video.id


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate)))  # fmt: skip
        w.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    return out.getvalue()


@pytest.fixture
def browser_client(client):
    from tests.web.test_web_pages import register

    assert register(client).status_code == 303
    return client


def editor_data(page_text: str) -> dict:
    raw = re.search(r"<script type=\"application/json\" data-editor-data>(.*?)</script>", page_text)
    return json.loads(raw.group(1))


# -- login -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/songs", "/songs/abc", "/videos", "/videos/abc"])
def test_video_pages_redirect_to_login_when_logged_out(client, path):
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"


def test_ui_api_needs_a_session_and_our_origin(browser_client):
    song_id = add_song(browser_client, owner_id(browser_client))
    body = {"sections": None}
    r = browser_client.post(f"/ui/api/songs/{song_id}/sections", json=body,
                            headers={"origin": "https://evil.example"})  # fmt: skip
    assert r.status_code == 403
    assert browser_client.post(f"/ui/api/songs/{song_id}/sections", json=body).status_code == 403
    browser_client.cookies.clear()
    r = browser_client.post(f"/ui/api/songs/{song_id}/sections", json=body, headers=ORIGIN)
    assert r.status_code == 401 and r.json() == {"detail": "not logged in"}
    assert browser_client.get(f"/ui/api/songs/{song_id}/file").status_code == 401


# -- songs, upload, analysis view -----------------------------------------------------------


def test_songs_page_upload_and_analysis_through_the_ui_api(browser_client):
    page = browser_client.get("/songs")
    assert page.status_code == 200
    assert "data-dropzone" in page.text and 'type="file"' in page.text
    assert 'href="/songs" aria-current="page"' in page.text  # the nav link
    assert "No songs yet" in page.text

    files = {"file": ("tone.wav", wav_bytes(), "audio/wav")}
    r = browser_client.post("/ui/api/songs", files=files, headers=ORIGIN)
    assert r.status_code == 201, r.text
    song = r.json()
    assert song["filename"] == "tone.wav" and song["status"] == "uploaded"
    refused = browser_client.post("/ui/api/songs", headers=ORIGIN,
                                  files={"file": ("x.mp3", b"not audio", "audio/mpeg")})  # fmt: skip
    assert refused.status_code == 422 and refused.json()["detail"]

    r = browser_client.post(f"/ui/api/songs/{song['id']}/analyze", headers=ORIGIN)
    assert r.status_code == 202 and r.json()["job_id"]
    listing = browser_client.get("/songs")
    assert "tone.wav" in listing.text and f'id="song-{song["id"]}"' in listing.text
    card = browser_client.get(f"/ui/songs/{song['id']}/card")
    assert card.status_code == 200 and "tone.wav" in card.text

    audio = browser_client.get(f"/ui/api/songs/{song['id']}/file", headers={"range": "bytes=0-3"})
    assert audio.status_code == 206 and audio.content == b"RIFF"


def test_a_song_not_analysed_yet_offers_the_analysis(browser_client):
    song_id = add_song(browser_client, owner_id(browser_client), analyzed=False)
    page = browser_client.get(f"/songs/{song_id}")
    assert page.status_code == 200
    assert f'data-api="/ui/api/songs/{song_id}/analyze"' in page.text
    assert "data-song-editor" not in page.text


def test_analysis_view_editor_and_generate_form(browser_client):
    song_id = add_song(browser_client, owner_id(browser_client))
    page = browser_client.get(f"/songs/{song_id}")
    assert page.status_code == 200
    text = page.text
    for needle in ("data-song-editor", "Use suggested sections", "Save sections", 'id="energy-chart"',
                   "wavesurfer.js/dist/plugins/regions.min.js",
                   "wavesurfer.js/dist/plugins/timeline.min.js", "A minor", "100.0 BPM",
                   "energetic", "electronic", "danceability", 'value="9:16"'):  # fmt: skip
        assert needle in text, needle
    data = editor_data(text)
    assert data["saved"] is False and data["locked"] is False
    assert [s["label"] for s in data["sections"]] == ["intro", "chorus"]
    assert len(data["beats"]) == 50 and data["duration"] == DURATION
    assert data["energy"][1] == [0.1, round(0.5 + 0.4 * math.sin(1 / 20), 3)]
    # The prompt and the video types come from GET .../video/suggestion.
    hint = browser_client.get(f"/ui/api/songs/{song_id}/video/suggestion").json()
    assert f">{hint['prompt']}</textarea>" in text
    for name, description in hint["video_types"].items():
        assert f'value="{name}"' in text and description in text
    assert f'value="{hint["video_type"]}" data-description' in text


def test_sections_are_saved_snapped_and_refused_with_the_apis_messages(browser_client):
    song_id = add_song(browser_client, owner_id(browser_client))
    url = f"/ui/api/songs/{song_id}/sections"
    body = {"sections": [{"start": 0, "end": 10.1, "label": "intro", "prompt_note": "fog"},
                         {"start": 10.1, "end": DURATION, "label": "drop"}]}  # fmt: skip
    r = browser_client.post(url, json=body, headers=ORIGIN)
    assert r.status_code == 201, r.text
    assert [s["start"] for s in r.json()] == [0.0, 10.2]  # snapped to the nearest beat
    data = editor_data(browser_client.get(f"/songs/{song_id}").text)
    assert data["saved"] is True and data["sections"][1]["label"] == "drop"

    gap = {"sections": [{"start": 0, "end": 10.2, "label": "a"},
                        {"start": 14.4, "end": DURATION, "label": "b"}]}  # fmt: skip
    r = browser_client.post(url, json=gap, headers=ORIGIN)
    assert r.status_code == 422 and "gap" in r.json()["detail"]
    long_note = {
        "sections": [{"start": 0, "end": DURATION, "label": "a", "prompt_note": "n" * 101}]
    }
    r = browser_client.post(url, json=long_note, headers=ORIGIN)
    assert r.status_code == 422 and "prompt_note" in r.json()["detail"]
    r = browser_client.post(url, json={}, headers=ORIGIN)  # the suggested ones
    assert r.status_code == 201 and [s["label"] for s in r.json()] == ["intro", "chorus"]


def test_generate_through_the_ui_api_then_the_song_page_follows_it(browser_client):
    song_id = add_song(browser_client, owner_id(browser_client))
    r = browser_client.post(f"/ui/api/songs/{song_id}/clips/generate", json={}, headers=ORIGIN)
    assert r.status_code == 409 and "no sections" in r.json()["detail"]
    browser_client.post(f"/ui/api/songs/{song_id}/sections", json={}, headers=ORIGIN)
    r = browser_client.post(f"/ui/api/songs/{song_id}/clips/generate", headers=ORIGIN,
                            json={"video_type": "nope", "aspect": "9:16"})  # fmt: skip
    assert r.status_code == 422 and "video_type 'nope'" in r.json()["detail"]
    r = browser_client.post(f"/ui/api/songs/{song_id}/clips/generate", headers=ORIGIN,
                            json={"prompt": "rivers", "video_type": "drift", "aspect": "9:16"})  # fmt: skip
    assert r.status_code == 202, r.text
    page = browser_client.get(f"/songs/{song_id}")
    assert 'class="job" data-job-id="' in page.text and "video-generate-form" not in page.text
    assert editor_data(page.text)["locked"] is True
    status = browser_client.get(f"/ui/api/songs/{song_id}/generation/status").json()
    assert status["video_id"] == r.json()["video_id"] and status["clips_total"] >= 2


# -- player, library, share ------------------------------------------------------------------


def test_player_page_regenerate_finalize_and_share(browser_client):
    owner = owner_id(browser_client)
    song_id = add_song(browser_client, owner)
    video_id = add_video(browser_client, owner, song_id)
    page = browser_client.get(f"/videos/{video_id}")
    assert page.status_code == 200
    text = page.text
    assert f'src="/ui/api/videos/{video_id}/file?v=1"' in text
    assert f'poster="/ui/api/videos/{video_id}/poster"' in text
    assert f'src="/ui/api/videos/{video_id}/lyrics.vtt?v=1"' in text and "data-lyrics-list" in text
    assert text.count("(1 left)</span></button>") == 2 + text.count('data-regen="clip"')
    assert "Create share link" in text and 'data-confirm="Finalize this video?' in text
    assert browser_client.get(f"/ui/api/videos/{video_id}/lyrics.vtt").text.startswith("WEBVTT")

    shared = browser_client.post(f"/ui/api/videos/{video_id}/share", headers=ORIGIN)
    assert shared.status_code == 200
    token = shared.json()["token"]
    page = browser_client.get(f"/videos/{video_id}")
    assert f'value="/v/{token}"' in page.text and "Revoke link" in page.text
    library = browser_client.get("/videos")
    assert library.status_code == 200 and f'value="/v/{token}"' in library.text
    assert "1 video." in library.text and 'data-method="DELETE"' in library.text

    final = browser_client.post(f"/ui/api/videos/{video_id}/finalize", headers=ORIGIN)
    assert final.status_code == 200 and final.json()["is_finalized"]
    page = browser_client.get(f"/videos/{video_id}")
    assert "Finalized" in page.text and page.text.count("disabled>Regenerate") >= 2
    again = browser_client.post(f"/ui/api/videos/{video_id}/finalize", headers=ORIGIN)
    assert again.status_code == 409 and "already finalized" in again.json()["detail"]

    # The public page needs no login, and a revoked link is a 404 page.
    browser_client.cookies.clear()
    public = browser_client.get(f"/v/{token}")
    assert public.status_code == 200 and "<video" in public.text
    assert f'src="/api/share/{token}/video.mp4"' in public.text
    assert 'class="site-header"' in public.text and "Log out" not in public.text
    assert browser_client.get(f"/api/share/{token}/lyrics.vtt").status_code == 200
    from tests.web.test_web_pages import PASSWORD

    browser_client.post("/login", data={"email": "me@example.com", "password": PASSWORD},
                        headers=ORIGIN)  # fmt: skip
    assert browser_client.delete(f"/ui/api/videos/{video_id}/share", headers=ORIGIN).status_code == 204  # fmt: skip
    gone = browser_client.get(f"/v/{token}")
    assert gone.status_code == 404 and "does not exist, or it was revoked" in gone.text

    assert browser_client.delete(f"/ui/api/videos/{video_id}", headers=ORIGIN).status_code == 204
    assert browser_client.get(f"/videos/{video_id}").status_code == 404
    assert "0 videos." in browser_client.get("/videos").text


def test_another_users_song_and_video_are_404_pages(browser_client, make_user):
    other = make_user()
    song_id = add_song(browser_client, other.id)
    video_id = add_video(browser_client, other.id, song_id)
    page = browser_client.get(f"/songs/{song_id}")
    assert page.status_code == 404 and "No such song" in page.text
    page = browser_client.get(f"/videos/{video_id}")
    assert page.status_code == 404 and "No such video" in page.text
    assert browser_client.get(f"/ui/songs/{song_id}/card").status_code == 404
    for method, path in (
        ("GET", f"/ui/api/songs/{song_id}/file"),
        ("GET", f"/ui/api/songs/{song_id}/video/suggestion"),
        ("POST", f"/ui/api/songs/{song_id}/analyze"),
        ("POST", f"/ui/api/songs/{song_id}/sections"),
        ("GET", f"/ui/api/videos/{video_id}/file"),
        ("POST", f"/ui/api/videos/{video_id}/finalize"),
        ("POST", f"/ui/api/videos/{video_id}/share"),
        ("DELETE", f"/ui/api/videos/{video_id}"),
    ):
        kwargs = {"json": {}} if path.endswith("sections") else {}
        r = browser_client.request(method, path, headers=ORIGIN, **kwargs)
        assert r.status_code == 404, (method, path, r.text)
    assert browser_client.get("/songs").text.count("song-card") == 0
    assert "0 videos." in browser_client.get("/videos").text


def test_user_text_is_shown_as_text_on_the_music_video_pages(browser_client):
    owner = owner_id(browser_client)
    song_id = add_song(browser_client, owner, filename=XSS + ".mp3")
    video_id = add_video(browser_client, owner, song_id, title=XSS, label=XSS[:40], shared=True)
    with browser_client.app.state.db.session() as session:
        token = session.get(MusicVideo, video_id).share_token
    for path in ("/songs", f"/songs/{song_id}", f"/ui/songs/{song_id}/card", f"/videos/{video_id}",
                 "/videos", f"/v/{token}"):  # fmt: skip
        page = browser_client.get(path, headers=HX if path.startswith("/ui/") else None)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, path
        assert "&lt;script&gt;alert(" in page.text or "\\u003cscript\\u003e" in page.text, path
    # The section label reaches the editor as JSON with <, > and & escaped.
    data = editor_data(browser_client.get(f"/songs/{song_id}").text)
    assert data["sections"][0]["label"] == XSS[:40]
    assert ESCAPED in browser_client.get(f"/v/{token}").text


def test_music_video_scripts_and_plugins_are_served(client):
    from soundstage.web.templating import vendor_url

    for path in ("/static/video.js", "/static/video.css", vendor_url("wavesurfer_regions"),
                 vendor_url("wavesurfer_timeline")):  # fmt: skip
        assert client.get(path).status_code == 200, path


def test_with_a_video_labels_and_notes_stay_editable_until_finalize(browser_client):
    owner = owner_id(browser_client)
    song_id = add_song(browser_client, owner)
    video_id = add_video(browser_client, owner, song_id)
    page = browser_client.get(f"/songs/{song_id}")
    data = editor_data(page.text)
    assert data["locked"] is True and data["finalized"] is False
    assert "labels and prompt notes can still change" in page.text
    first = data["sections"][0]
    url = f"/ui/api/songs/{song_id}/sections/{first['id']}"
    r = browser_client.patch(url, json={"label": "dawn", "prompt_note": "fog"}, headers=ORIGIN)
    assert r.status_code == 200, r.text
    assert (r.json()["label"], r.json()["prompt_note"]) == ("dawn", "fog")
    assert r.json()["start"] == first["start"] and r.json()["end"] == first["end"]
    too_long = browser_client.patch(url, json={"prompt_note": "x" * 101}, headers=ORIGIN)
    assert too_long.status_code == 422

    browser_client.post(f"/ui/api/videos/{video_id}/finalize", headers=ORIGIN)
    page = browser_client.get(f"/songs/{song_id}")
    assert editor_data(page.text)["finalized"] is True and "is finalized" in page.text
    refused = browser_client.patch(url, json={"label": "late"}, headers=ORIGIN)
    assert refused.status_code == 409 and "finalized" in refused.json()["detail"]

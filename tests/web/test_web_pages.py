"""Server-side tests of the web studio's pages: status codes, login redirects, sessions,
single-user mode, the same-origin rule, escaping of user text, forms, history and files."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from soundstage.workflows.ambient import service
from soundstage.workflows.ambient.models import Track, TrackStatus, VideoStatus

ORIGIN = {"origin": "http://testserver"}
HX = {"hx-request": "true"}
PASSWORD = "long-password-1"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def register(client, email: str = "me@example.com", password: str = PASSWORD):
    return client.post(
        "/register",
        data={"email": email, "password": password, "password_again": password},
        headers=ORIGIN,
        follow_redirects=False,
    )


@pytest.fixture
def browser_client(client):
    """The test client logged in through the register page (it keeps the session cookie)."""
    assert register(client).status_code == 303
    return client


def owner_id(client) -> str:
    from soundstage.platform.accounts.service import get_user_by_email

    with client.app.state.db.session() as session:
        return get_user_by_email(session, "me@example.com").id


def add_track(client, owner: str, **fields) -> str:
    """A finished track row with small files in storage (no job runs)."""
    storage = client.app.state.storage
    values = {"title": "Ocean", "prompt": "ocean at night", "status": TrackStatus.READY,
              "duration_s": 60.0, "seed": 1, "owner_id": owner}  # fmt: skip
    values.update(fields)
    with client.app.state.db.session() as session:
        track = Track(**values)
        session.add(track)
        session.flush()
        files = {}
        for kind, name, data in (
            ("mp3", "track.mp3", b"ID3" + b"\0" * 200),
            ("midi", "track.mid", b"MThd" + b"\0" * 10),
            ("stem:pad", "stems/pad.flac", b"fLaC-pad"),
            ("stem:piano", "stems/piano.flac", b"fLaC-piano"),
        ):
            key = f"users/{owner}/tracks/{track.id}/{name}"
            storage.put_bytes(key, data)
            files[kind] = {"key": key, "name": name, "size": len(data)}
        track.files = files
        session.commit()
        return track.id


# -- login, sessions, redirects -------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/history", "/tracks/abc", "/batches/abc"])
def test_pages_redirect_to_login_when_logged_out(client, path):
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next={path}"


def test_htmx_and_script_requests_are_not_redirected_to_html(client):
    r = client.post("/ui/generate", data={"prompt": "x"}, headers={**ORIGIN, **HX})
    assert r.status_code == 200 and r.headers["hx-redirect"] == "/login"
    r = client.get("/ui/jobs/abc")
    assert r.status_code == 401 and r.json() == {"detail": "not logged in"}


def test_register_logs_in_with_a_safe_cookie_and_logout_ends_the_session(client):
    r = register(client)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "soundstage_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    value = client.cookies["soundstage_session"]
    page = client.get("/")
    assert page.status_code == 200 and "me@example.com" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")

    r = client.post("/logout", headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    # The old cookie value no longer works: the session was revoked, not just forgotten.
    client.cookies.set("soundstage_session", value)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_page_errors_and_next(client):
    register(client)
    client.cookies.clear()
    r = client.post("/login", data={"email": "me@example.com", "password": "wrong-password"},
                    headers=ORIGIN)  # fmt: skip
    assert r.status_code == 401 and "incorrect email or password" in r.text
    assert "soundstage_session" not in client.cookies
    r = client.post(
        "/login",
        data={"email": "ME@example.com", "password": PASSWORD, "next": "/history"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/history"
    # Only local paths are followed after login.
    client.cookies.clear()
    r = client.post(
        "/login",
        data={"email": "me@example.com", "password": PASSWORD, "next": "//evil.example/"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"
    assert client.get("/login", follow_redirects=False).status_code == 303  # already in


def test_register_refuses_bad_input(client):
    r = client.post("/register", data={"email": "me@example.com", "password": PASSWORD,
                                       "password_again": "other-password"}, headers=ORIGIN)  # fmt: skip
    assert r.status_code == 422 and "the two passwords differ" in r.text
    r = register(client, password="short")
    assert r.status_code == 422 and "at least 10 characters" in r.text
    assert register(client).status_code == 303
    client.cookies.clear()
    r = register(client)
    assert r.status_code == 409 and "already exists" in r.text


def test_single_user_mode_says_registration_is_closed(make_client):
    client = make_client(allow_registration=False)
    page = client.get("/register")
    assert page.status_code == 200
    assert "Single-user mode" in page.text and "soundstage users create" in page.text
    assert "<form" not in page.text.split("<main", 1)[1].split("</main>")[0]
    assert register(client).status_code == 403
    assert "Single-user mode" in client.get("/login").text


def test_state_changing_requests_must_come_from_our_pages(browser_client):
    data = {"prompt": "rain", "duration_s": "30"}
    r = browser_client.post("/ui/generate", data=data, headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    r = browser_client.post("/ui/generate", data=data)  # no Origin, no htmx header
    assert r.status_code == 403
    r = browser_client.post("/logout", headers={"referer": "https://evil.example/page"})
    assert r.status_code == 403
    with browser_client.app.state.db.session() as session:
        assert session.query(Track).count() == 0
    assert browser_client.post("/ui/generate", data=data, headers=HX).status_code == 200


# -- create ---------------------------------------------------------------------------


def test_generate_form_queues_a_track_and_shows_its_live_progress(browser_client):
    data = {"prompt": "rain on a tin roof", "duration_s": "30", "seed": "9", "key": "F#",
            "mode": "minor", "bpm": "70", "mood": "dreamy", "render_video": "on",
            "stems": "on", "formats": ["wav"]}  # fmt: skip
    r = browser_client.post("/ui/generate", data=data, headers=HX)
    assert r.status_code == 200
    assert 'class="job" data-job-id="' in r.text
    assert '<p id="no-tracks" class="hint" hidden hx-swap-oob="true">' in r.text
    with browser_client.app.state.db.session() as session:
        track = session.query(Track).one()
        assert track.request["key"] == "F#" and track.request["mode"] == "aeolian"
        assert track.request["bpm"] == 70 and track.request["formats"] == ["wav"]
        assert track.seed == 9 and track.video_status == VideoStatus.QUEUED
        job_id = track.generate_job_id
    job = browser_client.get(f"/ui/jobs/{job_id}")
    assert job.status_code == 200 and job.json()["id"] == job_id


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"prompt": "rain", "duration_s": "5"}, "duration_s: Input should be greater than or equal to 30"),
        ({"prompt": "", "duration_s": "30"}, "prompt: String should have at least 1 character"),
        ({"prompt": "rain", "duration_s": "30", "key": "H"}, "key: unknown key"),
    ],
)  # fmt: skip
def test_generate_form_errors_are_shown_next_to_the_form(browser_client, data, message):
    r = browser_client.post("/ui/generate", data=data, headers=HX)
    assert r.status_code == 200
    assert r.headers["hx-retarget"] == "#generate-errors"
    assert message in r.text
    with browser_client.app.state.db.session() as session:
        assert session.query(Track).count() == 0


def test_batch_form_prompts_times_count(browser_client):
    r = browser_client.post("/ui/batch", data={"prompts": "ocean\n\nforest\n", "count": "2",
                                               "duration_s": "30"}, headers=HX)  # fmt: skip
    assert r.status_code == 200
    batch_id = re.search(r"/batches/([0-9a-f]{32})", r.text).group(1)
    assert r.text.count('class="job"') == 4
    page = browser_client.get(f"/batches/{batch_id}")
    assert page.status_code == 200 and "Batch of 4 tracks" in page.text
    r = browser_client.post("/ui/batch", data={"prompts": "wind", "count": "3", "seed": "",
                                               "duration_s": "30"}, headers=HX)  # fmt: skip
    with browser_client.app.state.db.session() as session:
        seeds = sorted(t.seed for t in session.query(Track).filter_by(prompt="wind"))
    assert len(seeds) == 3 and seeds == list(range(seeds[0], seeds[0] + 3))
    r = browser_client.post("/ui/batch", data={"prompts": "", "count": "1"}, headers=HX)
    assert r.headers["hx-retarget"] == "#batch-errors" and "at least one prompt" in r.text
    r = browser_client.post("/ui/batch", data={"prompts": "a", "count": "99"}, headers=HX)
    assert "count: must be between 1 and 20" in r.text


# -- escaping -------------------------------------------------------------------------


def test_user_text_is_shown_as_text_everywhere(browser_client):
    r = browser_client.post("/ui/generate", data={"prompt": XSS, "title": XSS, "duration_s": "30"},
                            headers=HX)  # fmt: skip
    assert XSS not in r.text and "&lt;script&gt;" in r.text
    with browser_client.app.state.db.session() as session:
        track_id = session.query(Track).one().id
    for path in ("/", "/history", f"/tracks/{track_id}", f"/ui/tracks/{track_id}/card",
                 "/history?q=" + XSS):  # fmt: skip
        page = browser_client.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, path
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text, path


# -- history --------------------------------------------------------------------------


def test_history_filters_pagination_stats_and_activity(browser_client):
    owner = owner_id(browser_client)
    now = datetime.now(UTC)
    for i in range(23):
        add_track(browser_client, owner, title=f"Ocean {i}", created_at=now - timedelta(minutes=i))
    add_track(browser_client, owner, title="Forest", prompt="forest after rain",
              status=TrackStatus.FAILED, created_at=now - timedelta(days=3))  # fmt: skip

    page = browser_client.get("/history")
    assert page.status_code == 200
    assert "24 tracks." in page.text and "Page 1 of 2" in page.text
    assert 'id="activity-chart"' in page.text and "minutes of music" in page.text
    assert page.text.count("<tr>") == 21  # header + 20 rows
    page2 = browser_client.get("/history?page=2", headers={**HX, "hx-target": "history-results"})
    assert "<h1>" not in page2.text and page2.text.count("<tr>") == 5

    def count(query: str) -> str:
        r = browser_client.get("/history?" + query, headers={**HX, "hx-target": "history-results"})
        return re.search(r'id="history-count">([^<]*)<', r.text).group(1)

    assert count("q=forest") == "1 track matches the filters."
    assert count("status=failed") == "1 track matches the filters."
    assert count("status=bogus") == "24 tracks."
    day = (now - timedelta(days=3)).date().isoformat()
    assert count(f"date_from={day}&date_to={day}") == "1 track matches the filters."
    assert count(f"date_to={day}") == "1 track matches the filters."
    r = browser_client.get("/history?date_from=yesterday", headers={**HX, "hx-target": "history-results"})  # fmt: skip
    assert "From: not a date" in r.text


def test_activity_counts_tracks_and_minutes_per_day(browser_client):
    owner = owner_id(browser_client)
    today = datetime(2026, 3, 10, 12, tzinfo=UTC)
    add_track(browser_client, owner, duration_s=90, created_at=today)
    add_track(browser_client, owner, duration_s=30, created_at=today - timedelta(hours=1))
    add_track(browser_client, owner, duration_s=600, created_at=today - timedelta(days=2))
    add_track(browser_client, owner, created_at=today - timedelta(days=40))  # too old
    with browser_client.app.state.db.session() as session:
        days = service.activity(session, owner, days=7, today=today)
    assert [d["date"] for d in days][-1] == "2026-03-10" and len(days) == 7
    assert days[-1] == {"date": "2026-03-10", "tracks": 2, "minutes": 2.0}
    assert days[-3] == {"date": "2026-03-08", "tracks": 1, "minutes": 10.0}
    assert sum(d["tracks"] for d in days) == 3


# -- track page and files -------------------------------------------------------------


def test_track_page_files_downloads_and_stems_zip(browser_client):
    track_id = add_track(browser_client, owner_id(browser_client))
    page = browser_client.get(f"/tracks/{track_id}")
    assert page.status_code == 200
    assert "data-player" in page.text and "Render video" in page.text
    assert f"/tracks/{track_id}/files/mp3?download=1" in page.text
    assert "Stems (ZIP of 2 FLAC)" in page.text

    inline = browser_client.get(f"/tracks/{track_id}/files/mp3")
    assert inline.status_code == 200 and inline.headers["content-type"] == "audio/mpeg"
    assert inline.headers["content-disposition"].startswith("inline")
    part = browser_client.get(f"/tracks/{track_id}/files/mp3", headers={"range": "bytes=0-2"})
    assert part.status_code == 206 and part.content == b"ID3"
    download = browser_client.get(f"/tracks/{track_id}/files/midi?download=1")
    assert download.headers["content-disposition"].startswith("attachment")
    assert browser_client.get(f"/tracks/{track_id}/files/video").status_code == 404

    archive = browser_client.get(f"/tracks/{track_id}/stems.zip")
    assert archive.status_code == 200
    assert 'filename="ocean-stems.zip"' in archive.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
        assert sorted(zf.namelist()) == ["pad.flac", "piano.flac"]
        assert zf.read("piano.flac") == b"fLaC-piano"
    assert not list((browser_client.app.state.settings.tmp_dir / "web").glob("*.zip"))


def test_render_and_delete_from_the_track_page(browser_client):
    track_id = add_track(browser_client, owner_id(browser_client))
    r = browser_client.post(f"/ui/tracks/{track_id}/render", headers=HX)
    assert r.status_code == 200 and 'class="job" data-job-id=' in r.text
    again = browser_client.post(f"/ui/tracks/{track_id}/render", headers=HX)
    assert "Rendering a 1080p30 MP4" in again.text  # already rendering: it keeps following it

    r = browser_client.delete(f"/ui/tracks/{track_id}", headers=HX)
    assert r.status_code == 200 and r.headers["hx-redirect"] == "/history?deleted=1"
    assert browser_client.get(f"/tracks/{track_id}").status_code == 404


def test_another_users_track_is_a_404_page(browser_client, make_user):
    other = make_user()
    track_id = add_track(browser_client, other.id)
    page = browser_client.get(f"/tracks/{track_id}")
    assert page.status_code == 404 and "No such track" in page.text
    assert browser_client.get(f"/tracks/{track_id}/files/mp3").status_code == 404
    assert browser_client.get(f"/ui/tracks/{track_id}/card").status_code == 404
    assert browser_client.delete(f"/ui/tracks/{track_id}", headers=HX).status_code == 404


def test_static_files_and_front_end_libraries_are_served(client):
    from soundstage.web.templating import missing_vendor_files, vendor_url

    assert client.get("/static/studio.css").status_code == 200
    assert client.get("/static/studio.js").status_code == 200
    assert not missing_vendor_files(), "run scripts/setup.sh (npm ci of the front-end libraries)"
    for name in ("htmx", "wavesurfer", "chart"):
        r = client.get(vendor_url(name))
        assert r.status_code == 200 and "javascript" in r.headers["content-type"], name


def test_a_reverse_proxy_host_is_accepted_as_our_origin(browser_client):
    headers = {"origin": "https://studio.example", "x-forwarded-host": "studio.example"}
    r = browser_client.post(
        "/ui/generate", data={"prompt": "x", "duration_s": "5"}, headers=headers
    )
    assert r.status_code == 200 and "duration_s" in r.text


# -- waveform peaks, cancel, live batch summary --------------------------------------------


def test_track_waveform_comes_from_server_side_peaks_for_any_length(browser_client, tmp_path):
    import numpy as np
    import soundfile as sf

    owner = owner_id(browser_client)
    track_id = add_track(browser_client, owner, duration_s=3.0)
    storage = browser_client.app.state.storage
    with browser_client.app.state.db.session() as session:
        track = session.get(Track, track_id)
        t = np.arange(44100 * 3) / 44100
        sf.write(tmp_path / "t.flac", (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 44100)
        key = f"users/{owner}/tracks/{track_id}/track.flac"
        storage.put_file(key, tmp_path / "t.flac")
        files = dict(track.files)
        files.pop("mp3")
        files["flac"] = {"key": key, "name": "track.flac", "size": storage.size(key)}
        track.files = files
        session.commit()
    page = browser_client.get(f"/tracks/{track_id}")
    assert f'data-peaks="/tracks/{track_id}/peaks.json"' in page.text
    peaks = browser_client.get(f"/tracks/{track_id}/peaks.json").json()
    assert peaks["duration_s"] == 3.0 and len(peaks["peaks"]) == service.WAVEFORM_POINTS
    assert 0.45 < max(peaks["peaks"]) <= 0.55
    cached = f"users/{owner}/tracks/{track_id}/waveform-{service.WAVEFORM_POINTS}.json"
    assert storage.exists(cached)
    assert browser_client.get(f"/tracks/{track_id}/peaks.json").json() == peaks  # from the cache
    browser_client.delete(f"/ui/tracks/{track_id}", headers=HX)
    assert not storage.exists(cached)


def test_cancel_a_queued_generation_from_its_progress_widget(browser_client):
    from soundstage.platform.jobs import submit_job
    from soundstage.workflows.ambient.pipeline import GENERATE_JOB

    owner = owner_id(browser_client)
    track_id = add_track(browser_client, owner, status=TrackStatus.QUEUED, files={})
    with browser_client.app.state.db.session() as session:
        later = datetime.now(UTC) + timedelta(hours=1)  # the runner waits
        job = submit_job(session, GENERATE_JOB, owner, {"track_id": track_id}, run_after=later)
        session.get(Track, track_id).generate_job_id = job.id
        session.commit()
        job_id = job.id
    page = browser_client.get(f"/tracks/{track_id}")
    assert 'class="job-cancel button-quiet">Cancel' in page.text
    assert browser_client.post(f"/ui/jobs/{job_id}/cancel").status_code == 403  # not our origin
    r = browser_client.post(f"/ui/jobs/{job_id}/cancel", headers=ORIGIN)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    with browser_client.app.state.db.session() as session:
        track = session.get(Track, track_id)
        assert track.status == TrackStatus.CANCELLED and track.error == "cancelled"
    again = browser_client.post(f"/ui/jobs/{job_id}/cancel", headers=ORIGIN)
    assert again.status_code == 200 and again.json()["state"] == "cancelled"


def test_batch_summary_polls_until_every_item_is_finished(browser_client):
    r = browser_client.post("/ui/batch", data={"prompts": "ocean\nforest", "count": "1",
                                               "duration_s": "30"}, headers=HX)  # fmt: skip
    batch_id = re.search(r"/batches/([0-9a-f]{32})", r.text).group(1)
    summary = browser_client.get(f"/ui/batches/{batch_id}/summary")
    assert summary.status_code == 200 and 'id="batch-summary"' in summary.text
    assert f'hx-get="/ui/batches/{batch_id}/summary"' in summary.text
    with browser_client.app.state.db.session() as session:
        for track in session.query(Track):
            from soundstage.platform.jobs import Job, cancel_job

            cancel_job(session, session.get(Job, track.generate_job_id))
        session.commit()
    with browser_client.app.state.db.session() as session:  # running jobs stop at their next step
        for track in session.query(Track):
            from soundstage.platform.jobs import Job, JobState, transition

            job = session.get(Job, track.generate_job_id)
            if job.state == JobState.RUNNING:
                transition(session, job, JobState.CANCELLED, "test")
        session.commit()
    done = browser_client.get(f"/ui/batches/{batch_id}/summary")
    assert (
        "2 cancelled" in done.text and "hx-get" not in done.text and "batch finished" in done.text
    )
    assert browser_client.get("/ui/batches/" + "0" * 32 + "/summary").status_code == 404

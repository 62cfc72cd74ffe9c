"""The web studio in a real browser: register → generate → live progress → play → render
video → download → delete; a batch; history filters; a failed job retried."""

from __future__ import annotations

import json
import re
import time
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from tests.web.conftest import register

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(600)]

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under CI) with the reason
    expect = None

XSS_PROMPT = 'rain on a tin roof <script>window.__pwned = 1</script> "slow" piano'


def follow_progress(card, timeout_s: float = 120) -> list[tuple[str, int]]:
    """Read a card's live progress until its job widget is replaced; returns what was seen."""
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + timeout_s
    job = card.locator(".job")
    while time.monotonic() < deadline:
        if job.count() == 0:
            return seen
        try:
            stage = job.locator(".job-stage").inner_text(timeout=1000)
            pct = int(job.locator(".job-pct").inner_text(timeout=1000).split()[0])
        except Exception:  # swapped out between the two reads
            continue
        if not seen or seen[-1] != (stage, pct):
            seen.append((stage, pct))
        time.sleep(0.05)
    raise AssertionError(f"the job did not finish in {timeout_s} s; saw {seen}")


def test_web_register_generate_play_render_download_delete(studio, page, shot, tmp_path):
    url = studio.url
    page.goto(f"{url}/")
    page.wait_for_url(re.compile(r"/login\?next=/$"))
    shot("login", doc="login")
    page.get_by_role("link", name="Create one").click()
    register(page, url)
    expect(page.get_by_role("heading", name="Create an ambient track")).to_be_visible()

    form = page.locator("#generate-form")
    form.get_by_label("Prompt").fill(XSS_PROMPT)
    form.get_by_label("Duration (seconds)").fill("30")
    form.get_by_label("Seed").fill("5")
    form.get_by_label("Mood").select_option("dreamy")
    form.get_by_role("button", name="Generate").click()

    card = page.locator("#recent-list .track-card").first
    expect(card.locator(".job")).to_be_visible()
    shot("create-progress", doc="create")
    seen = follow_progress(card)
    stages = {stage for stage, _ in seen}
    assert len(stages) >= 2, seen
    percents = [pct for _, pct in seen]
    assert percents == sorted(percents), seen
    expect(card.locator(".badge")).to_have_text("ready")
    # The prompt is shown as text; its script never ran.
    expect(card.locator("h3")).to_contain_text("<script>window.__pwned = 1</script>")
    assert page.evaluate("window.__pwned === undefined")

    card.locator("h3 a").click()
    page.wait_for_url(re.compile(r"/tracks/[0-9a-f]{32}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("<script>")
    player = page.locator("[data-player]")
    expect(player).to_have_attribute("data-ready", "1", timeout=30_000)
    play = player.get_by_role("button", name="Play")
    play.click()
    expect(player).to_have_attribute("data-playing", "1")
    expect(player.locator("[data-time]")).not_to_have_text("0:00", timeout=10_000)
    player.get_by_role("button", name="Pause").click()
    expect(player).not_to_have_attribute("data-playing", "1")
    shot("track", doc="track")

    page.get_by_role("button", name="Render video").click()
    expect(page.locator("#video .job")).to_be_visible()
    video = page.locator("video.video")
    expect(video).to_be_visible(timeout=180_000)
    page.wait_for_function("document.querySelector('video.video').readyState >= 1")
    assert page.evaluate("document.querySelector('video.video').duration") == pytest.approx(
        30, abs=0.2
    )
    shot("track-video")

    downloads = {}
    for kind in ("mp3", "midi", "video", "stems"):
        with page.expect_download() as info:
            page.locator(f'a[data-kind="{kind}"]').click()
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        downloads[kind] = path
    assert downloads["mp3"].read_bytes()[:3] == b"ID3"
    assert downloads["midi"].read_bytes()[:4] == b"MThd"
    assert downloads["video"].read_bytes()[4:8] == b"ftyp"
    with zipfile.ZipFile(downloads["stems"]) as archive:
        names = archive.namelist()
        assert names and all(n.endswith(".flac") for n in names)
        assert archive.testzip() is None

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete track").click()
    page.wait_for_url(re.compile(r"/history\?deleted=1$"))
    expect(page.locator("#history-count")).to_have_text("0 tracks.")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.goto(f"{url}/history")
    page.wait_for_url(re.compile(r"/login\?next=/history$"))


def test_web_batch_history_filters_and_phone_width(studio, page, shot):
    url = studio.url
    register(page, url)
    form = page.locator("#batch-form")
    form.get_by_label("Prompts, one per line").fill("ocean at night\nforest after rain")
    form.get_by_label("Tracks per prompt").fill("1")
    form.get_by_label("Duration (seconds)").fill("30")
    form.get_by_role("button", name="Generate batch").click()
    cards = page.locator("#recent-list .track-card")
    expect(cards).to_have_count(2)
    expect(page.locator("#recent-list .job")).to_have_count(2)
    shot("batch-progress", doc="batch")

    page.get_by_role("link", name="follow the batch").click()
    page.wait_for_url(re.compile(r"/batches/[0-9a-f]{32}$"))
    expect(page.locator(".track-card")).to_have_count(2)
    for i in range(2):
        follow_progress(page.locator(".track-card").nth(i), timeout_s=180)
    expect(page.locator(".badge-ready")).to_have_count(2)
    # The summary line polls itself until the whole batch is done.
    expect(page.locator("#batch-summary")).to_contain_text("2 completed", timeout=15_000)
    expect(page.locator("#batch-summary")).to_contain_text("batch completed")

    page.get_by_role("link", name="History").click()
    page.wait_for_url(f"{url}/history")
    stats = page.locator(".stats")
    expect(stats.locator(".stat").first).to_contain_text("2")
    page.wait_for_function("!!document.getElementById('activity-chart')._chart")
    today = datetime.now(UTC).date()
    activity = json.loads(page.locator("#activity-data").text_content())
    assert activity[-1] == {"date": today.isoformat(), "tracks": 2, "minutes": 1.0}
    expect(page.locator("#history-count")).to_have_text("2 tracks.")
    shot("history", doc="history")

    filters = page.locator("#history-filters")
    filters.get_by_label("Text").fill("ocean")
    expect(page.locator("#history-count")).to_have_text("1 track matches the filters.")
    expect(page.locator("table.history tbody tr")).to_have_count(1)
    expect(page.locator("table.history")).to_contain_text("ocean at night")
    assert "q=ocean" in page.url
    filters.get_by_label("Text").fill("")
    filters.get_by_label("Status").select_option("failed")
    expect(page.locator("#history-count")).to_have_text("0 tracks match the filters.")
    filters.get_by_label("Status").select_option("ready")
    expect(page.locator("#history-count")).to_have_text("2 tracks match the filters.")
    filters.get_by_label("From").fill((today + timedelta(days=1)).isoformat())
    expect(page.locator("#history-count")).to_have_text("0 tracks match the filters.")
    filters.get_by_label("From").fill(today.isoformat())
    filters.get_by_label("To").fill(today.isoformat())
    expect(page.locator("#history-count")).to_have_text("2 tracks match the filters.")

    # A phone: nothing wider than the screen, every control reachable.
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(f"{url}/history")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot("history-phone", doc="history-phone")
    page.goto(f"{url}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot("create-phone", doc="create-phone")

    # Keyboard: the first Tab reaches the skip link, Enter moves to the content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()


def test_web_failed_job_shows_error_and_retries(studio, page, problems, shot):
    """A failure arrives by SSE (simulated); Retry re-queues it; progress then continues by
    polling because the stream is refused; the track becomes ready."""
    url = studio.url
    register(page, url)
    retried: list[str] = []
    state = {"failed_once": False}

    def events(route):
        if not state["failed_once"]:
            state["failed_once"] = True
            job_id = route.request.url.split("/")[-2]
            job = {"id": job_id, "state": "failed", "progress": 12.0, "stage": "composing",
                   "eta_s": None, "error": "the SoundFont could not be read", "attempts": 3}  # fmt: skip
            body = f"event: done\ndata: {json.dumps(job)}\n\n"
            route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=body)
        else:
            route.abort()  # later streams fail: the page must fall back to polling

    def retry(route):
        retried.append(route.request.url)
        job_id = route.request.url.split("/")[-2]
        job = {"id": job_id, "state": "queued", "progress": 0.0, "stage": "", "eta_s": None,
               "error": None, "attempts": 0}  # fmt: skip
        route.fulfill(status=200, content_type="application/json", body=json.dumps(job))

    problems.allow(r"/ui/jobs/[0-9a-f]+/events$")
    page.route(re.compile(r"/ui/jobs/[0-9a-f]+/events$"), events)
    page.route(re.compile(r"/ui/jobs/[0-9a-f]+/retry$"), retry)

    form = page.locator("#generate-form")
    form.get_by_label("Prompt").fill("distant thunder, warm pads")
    form.get_by_label("Duration (seconds)").fill("30")
    form.get_by_role("button", name="Generate").click()
    card = page.locator("#recent-list .track-card").first
    error = card.locator(".job-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("the SoundFont could not be read")
    expect(card.locator(".job-stage")).to_have_text("Failed")
    expect(card.locator(".badge")).to_have_text("failed")
    shot("job-failed", doc="job-failed")

    card.get_by_role("button", name="Retry").click()
    expect(error).to_be_hidden()
    assert len(retried) == 1
    follow_progress(card)
    expect(card.locator(".badge")).to_have_text("ready")


def test_web_cancel_a_queued_and_a_running_generation(studio, page, shot):
    """Cancel from the progress widget: a queued job stops at once, a running one at its next
    step; the cards end up cancelled and their Cancel buttons disappear."""
    register(page, studio.url)  # the studio runs two job threads: the third track waits
    form = page.locator("#generate-form")
    for prompt in ("a long slow drone", "a second drone", "a third drone"):
        form.get_by_label("Prompt").fill(prompt)
        form.get_by_label("Duration (seconds)").fill("600")
        form.get_by_role("button", name="Generate").click()
    cards = page.locator("#recent-list .track-card")
    expect(cards).to_have_count(3)
    queued = cards.nth(0)  # newest first
    for i in (1, 2):
        expect(cards.nth(i).locator(".job")).to_have_attribute(
            "data-state", "running", timeout=60_000
        )
    expect(queued.locator(".job")).to_have_attribute("data-state", "queued")

    queued.get_by_role("button", name="Cancel").click()
    expect(queued.locator(".job-stage")).to_have_text("Cancelled")
    expect(queued.locator(".badge")).to_have_text("cancelled")
    expect(queued.get_by_role("button", name="Cancel")).to_be_hidden()

    for i in (1, 2):
        cards.nth(i).get_by_role("button", name="Cancel").click()
    for i in (1, 2):
        expect(cards.nth(i).locator(".job-stage")).to_have_text("Cancelled", timeout=120_000)
        expect(cards.nth(i).locator(".badge")).to_have_text("cancelled")
    shot("job-cancelled")

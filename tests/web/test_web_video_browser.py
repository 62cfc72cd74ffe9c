"""The music video pages in a real browser: upload a song → live analysis → waveform with its
beat grid and sections → suggested sections saved → generate with live progress → the player
plays with its lyrics → regenerate a clip (1 left → 0 left) → finalize → share link opened
without logging in → the library."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Server
from tests.helpers import generate_song
from tests.web.conftest import DOC_SHOTS, Problems, _watch, register
from tests.web.test_web_browser import follow_progress

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(600)]

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under CI) with the reason
    expect = None

LYRICS = "light on the water\nslowly drifting home\nwe follow the river\nall the way down"


@pytest.fixture
def video_studio(tmp_path: Path, monkeypatch) -> Iterator[Server]:
    """`soundstage serve` at 12 fps (short renders), two job workers."""
    monkeypatch.setenv("SOUNDSTAGE_JOB_WORKERS", "2")
    monkeypatch.setenv("SOUNDSTAGE_VIDEO_FPS", "12")
    server = Server(tmp_path / "data")
    server.start()
    yield server
    server.stop()


def wait_js(page, expression: str, timeout_s: float = 30) -> None:
    """Poll a JavaScript expression until it is true. (Not wait_for_function: its polling
    evaluates a string in the page, which the pages' CSP refuses.)"""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        time.sleep(0.1)


def wait_for_reload_after_job(page, where: str, timeout_s: float = 240) -> list[tuple[str, int]]:
    """Follow a job widget under `where` until the page reloads without it."""
    seen = follow_progress(page.locator(where), timeout_s=timeout_s)
    page.wait_for_load_state("load")
    return seen


def test_web_music_video_flow(video_studio, page, browser, shot, tmp_path):
    song = generate_song(tmp_path / "song", "warm guitar", seed=3, bpm=100)
    url = video_studio.url
    register(page, url)
    page.get_by_role("link", name="Music video").click()
    page.wait_for_url(f"{url}/songs")
    expect(page.get_by_role("heading", name="Make a music video")).to_be_visible()

    # Upload with lyrics: the card appears with the live analysis, then turns "analyzed".
    page.get_by_text("Lyrics (optional)").click()
    page.get_by_label("Lyrics, one sung line per line").fill(LYRICS)
    page.get_by_label("Choose a file").set_input_files(str(song))
    card = page.locator("#song-list .song-card").first
    expect(card).to_contain_text(song.name)
    shot("songs-analysing", doc="music-video-songs")
    follow_progress(card, timeout_s=120)
    expect(card.locator(".badge").first).to_have_text("analyzed")

    # The analysis view: waveform, beat grid (Regions markers), section bands, energy chart.
    card.locator("h3 a").click()
    page.wait_for_url(re.compile(r"/songs/[0-9a-f]{32}$"))
    editor = page.locator("[data-song-editor]")
    expect(editor).to_have_attribute("data-ready", "1", timeout=30_000)
    beats = int(editor.get_attribute("data-beats"))
    assert beats >= 8, beats  # a steady pulse for 30 s (the exact count is the analysis's)
    markers = editor.locator('[data-waveform] [part~="marker"]')
    assert markers.count() == beats
    assert markers.first.is_visible()
    bands = editor.locator('[data-waveform] [part~="region"]')
    assert bands.count() == int(editor.get_attribute("data-sections")) >= 1
    wait_js(page, "!!document.getElementById('energy-chart')._chart")
    details = page.locator(".details")
    expect(details.locator('[data-field="bpm"]')).to_contain_text("BPM")
    expect(details.locator('[data-field="key"]')).not_to_have_text("–")
    expect(page.locator("[data-sections-state]")).to_contain_text("not saved")

    # Drag an edge on the waveform: it lands on a beat. The keyboard moves it a beat at a time.
    # Then take the suggested sections again and save.
    rows = editor.locator("[data-section-list] > li")
    if rows.count() >= 2:
        before = rows.nth(1).locator(".section-time").inner_text()
        handle = editor.locator(
            '[data-waveform] [part~="region-handle-right"]'
        ).first.bounding_box()
        x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 25, y, steps=5)
        page.mouse.move(x + 50, y, steps=5)
        page.mouse.up()
        expect(page.locator("[data-sections-state]")).to_contain_text("on a beat")
        after = rows.nth(1).locator(".section-time").inner_text()
        assert after != before, (before, after)
        moved = float(re.search(r"· 0:(\d+\.\d+)", after).group(1))
        beat_times = page.evaluate(
            "JSON.parse(document.querySelector('[data-editor-data]').textContent).beats"
        )
        assert min(abs(moved - b) for b in beat_times) < 0.006, (moved, after)
        editor.get_by_role("button", name="Move the start of section 2 one beat later").click()
        expect(page.locator("[data-sections-state]")).to_contain_text("on a beat")
    editor.get_by_role("button", name="Use suggested sections").click()
    editor.get_by_role("button", name="Save sections").click()
    expect(page.locator("[data-sections-state]")).to_contain_text("Saved")
    expect(editor).to_have_attribute("data-saved", "1")
    shot("song-analysis", doc="music-video-analysis")

    # Generate: the prompt is prefilled from the suggestion; progress by stage, live.
    song_url = page.url
    form = page.locator("#video-generate-form")
    expect(form.get_by_label("Overall prompt")).not_to_have_value("")
    expect(page.locator("#v-type-desc")).not_to_be_empty()
    form.get_by_label("16:9 (landscape, 1920×1080)").check()
    form.get_by_role("button", name="Generate the video").click()
    expect(page.locator("#generate .job")).to_be_visible()
    expect(editor).to_have_attribute("data-ready", "1", timeout=30_000)
    shot("generating", doc="music-video-progress")
    seen = wait_for_reload_after_job(page, "#generate")
    stages = {stage for stage, _ in seen}
    assert len(stages) >= 2, seen
    page.get_by_role("link", name="Watch the video").click()
    page.wait_for_url(re.compile(r"/videos/[0-9a-f]{32}$"))
    player_url = page.url

    # With a video, section edges are fixed; a label or note can still change for regenerations.
    page.goto(song_url)
    page.get_by_label("Label of section 1").fill("opening")
    page.get_by_role("button", name="Save the label and note of section 1").click()
    state = page.locator("[data-sections-state]")
    expect(state).to_contain_text("Saved the label and note of section 1")
    page.reload()
    expect(page.get_by_label("Label of section 1")).to_have_value("opening")
    page.goto(player_url)

    # The player plays; the lyrics are listed from the <track> and highlighted as sung.
    video = page.locator("#music-video")
    wait_js(page, "document.querySelector('#music-video').readyState >= 1")
    assert page.evaluate("document.querySelector('#music-video').duration") == pytest.approx(
        30, abs=0.3
    )
    lyrics = page.locator("[data-lyrics-list] li")
    expect(lyrics.first).to_be_visible(timeout=15_000)
    lyrics.first.get_by_role("button").click()  # jumps there and plays
    wait_js(page, "document.querySelector('#music-video').currentTime > 0.3")
    expect(page.locator("[data-lyrics-list] li.active")).to_have_count(1, timeout=10_000)
    video.evaluate("v => v.pause()")
    shot("player", doc="music-video-player")

    # Regenerate one clip: 1 left → 0 left once the new take is composed.
    regen = page.locator('button[data-regen="clip"]').first
    expect(regen).to_contain_text("(1 left)")
    clip_row = regen.locator("xpath=ancestor::tr").get_attribute("id")
    regen.click()
    expect(page.locator("#progress-h")).to_be_visible()
    wait_for_reload_after_job(page, "main")
    regen = page.locator(f"#{clip_row} button[data-regen]")
    expect(regen).to_contain_text("(0 left)")
    expect(regen).to_be_disabled()

    # Finalize (after confirming), then share: the link opens without logging in.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Finalize").click()
    expect(page.locator("#final-h + .notice")).to_contain_text("Finalized")
    expect(page.locator('button[data-regen="section"]').first).to_be_disabled()
    page.get_by_role("button", name="Create share link").click()
    link = page.get_by_label("Public link (plays without logging in)")
    expect(link).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/v/[\w-]+$"))
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("[data-copy-status]")).not_to_be_empty()
    folder = shot("player-shared").parent
    share_url = link.input_value()

    public = browser.new_context(viewport={"width": 1280, "height": 860})
    problems = Problems()
    visitor = public.new_page()
    _watch(visitor, problems)
    visitor.goto(share_url)
    expect(visitor.locator("video")).to_be_visible()
    wait_js(visitor, "document.querySelector('video').readyState >= 1")
    expect(visitor.get_by_role("link", name="Log out")).to_have_count(0)
    visitor.screenshot(path=str(folder / "share-public.png"), full_page=True)
    if os.environ.get("SOUNDSTAGE_DOC_SCREENSHOTS") == "1":
        shutil.copyfile(folder / "share-public.png", DOC_SHOTS / "music-video-share.png")
    public.close()
    assert not problems.items, "browser problems on the public page:\n" + "\n".join(problems.items)

    # The library lists it with its share link.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Videos").click()
    page.wait_for_url(f"{url}/videos")
    item = page.locator("#video-list .track-card")
    expect(item).to_have_count(1)
    expect(item.locator("[data-share-link]")).to_have_value(share_url)
    expect(item.locator(".badge")).to_have_text("finalized")
    shot("library", doc="music-video-library")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    # A phone: the player page fits the screen.
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(player_url)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    time.sleep(0.2)
    shot("player-phone")

"""The track platform in a real browser: register → make a short track (live credit cost, live
progress) → play it on the studio's track page → publish → a new cover → the public page,
logged out → the style editor."""

from __future__ import annotations

import re
import time

import pytest

from tests.web.conftest import _watch, register

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(600)]

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under CI) with the reason
    expect = None

TITLE = re.compile("late night city walk", re.IGNORECASE)  # titles start with a capital
PROMPT = 'late night city walk <script>window.__pwned = 1</script> "warm" keys'


def wait_until_done(card, timeout_s: float = 300) -> list[str]:
    """Watch a card's job widget until the finished card replaces it; the stages seen."""
    stages: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = card.locator(".job")
        if job.count() == 0:
            return stages
        try:
            stage = job.locator(".job-stage").inner_text(timeout=1000)
        except Exception:  # swapped out between the two reads
            continue
        if not stages or stages[-1] != stage:
            stages.append(stage)
        time.sleep(0.1)
    raise AssertionError(f"the track did not finish in {timeout_s} s; saw {stages}")


def wait_for(page, expression: str, timeout_s: float = 30) -> None:
    """Poll a JavaScript expression until it is true (the page's CSP forbids eval, which
    Playwright's wait_for_function needs while it polls)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        time.sleep(0.1)


def play(page, selector: str) -> None:
    """Start an <audio> element and wait until its time moves, then pause it."""
    page.evaluate(f"() => document.querySelector('{selector}').play()")
    wait_for(page, f"document.querySelector('{selector}').currentTime > 0.2")
    page.evaluate(f"() => document.querySelector('{selector}').pause()")


def test_make_play_publish_and_share_a_track(studio, browser, page, problems, shot):
    url = studio.url
    page.goto(f"{url}/register")
    register(page, url)
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Tracks", exact=True
    ).click()
    page.wait_for_url(f"{url}/tracks/new")
    expect(page.get_by_role("heading", name="Make a track")).to_be_visible()

    form = page.locator("#track-form")
    cost = page.locator("#cost-preview")
    expect(cost).to_contain_text("1 credit")
    form.get_by_label("Duration (seconds)").fill("45")
    expect(cost).to_contain_text("2 credits")  # the live cost follows the duration
    expect(cost).to_contain_text("400 → 398")
    form.get_by_label("Duration (seconds)").fill("6")
    expect(cost).to_contain_text("1 credit")
    form.get_by_label("Prompt").fill(PROMPT)
    form.get_by_label("Genre").select_option("lofi")
    form.get_by_label("BPM").fill("96")
    form.get_by_label("Seed").fill("3")
    shot("create-form", doc="tracks-create")
    form.get_by_role("button", name="Create track").click()

    card = page.locator("#track-list .track-card").first
    expect(card.locator(".job")).to_be_visible()
    expect(cost).to_contain_text("399 → 398")  # the balance after this one was charged
    shot("progress")
    stages = wait_until_done(card)
    assert stages, "no progress was shown"
    expect(card.locator(".badge")).to_have_text("ready")
    expect(card.locator("h3")).to_contain_text("<script>window.__pwned = 1</script>")
    assert page.evaluate("() => window.__pwned === undefined")

    card.locator("h3 a").click()
    page.wait_for_url(re.compile(r"/tracks/[0-9a-f]{32}$"))
    track_url = page.url
    track_id = track_url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
    player = page.locator("[data-player]")  # the studio's track page, for every track
    expect(player).to_have_attribute("data-ready", "1", timeout=30_000)
    player.get_by_role("button", name="Play").click()
    expect(player).to_have_attribute("data-playing", "1")
    expect(player.locator("[data-time]")).not_to_have_text("0:00", timeout=10_000)
    player.get_by_role("button", name="Pause").click()
    expect(page.locator("#track-platform")).to_be_visible()  # publish and cover panel
    expect(page.locator("#song-h")).to_be_visible()
    expect(page.locator(".details").last).to_contain_text("96")
    shot("track", doc="tracks-track")

    page.get_by_role("button", name="Publish").click()
    link = page.locator("#public-link")
    expect(link).to_have_attribute("href", f"/t/{track_id}")

    old_cover = page.locator("#cover-box img").get_attribute("src")
    page.get_by_role("button", name="New visual version").click()
    expect(page.locator("[data-visual-version]")).to_have_text("2")
    assert page.locator("#cover-box img").get_attribute("src") != old_cover
    wait_for(page, "document.querySelector('#cover-box img').naturalWidth > 0")
    published = shot("published")

    # The public page, in a fresh context with no session.
    guest_context = browser.new_context(viewport={"width": 1000, "height": 900})
    guest = guest_context.new_page()
    _watch(guest, problems)
    try:
        guest.goto(f"{url}/t/{track_id}")
        expect(guest.get_by_role("heading", level=1)).to_contain_text(TITLE)
        expect(guest.get_by_role("button", name="Log out")).to_have_count(0)
        wait_for(guest, "document.querySelector('.public-track img').naturalWidth > 0")
        play(guest, "#public-player")
        guest.screenshot(path=str(published.parent / "99-public-page.png"), full_page=True)
    finally:
        guest_context.close()

    # Private again: the public page is gone.
    page.get_by_role("button", name="Make private").click()
    expect(page.get_by_role("button", name="Publish")).to_be_visible()
    assert page.request.get(f"{url}/t/{track_id}").status == 404


def test_style_editor_previews_live_and_saves(studio, page, shot):
    url = studio.url
    page.goto(f"{url}/register")
    register(page, url)
    page.goto(f"{url}/styles")
    expect(page.get_by_role("heading", name="Series and styles")).to_be_visible()
    card = page.locator(".series-card").first
    preview = card.locator("[data-preview]")
    wait_for(page, "document.querySelector('[data-preview]').naturalWidth > 0")
    before = preview.get_attribute("src")
    card.get_by_label("Shapes").fill("3")
    card.get_by_label("Shapes").dispatch_event("input")
    expect(preview).not_to_have_attribute("src", before)
    assert "shape_count=3" in preview.get_attribute("src")
    wait_for(page, "document.querySelector('[data-preview]').naturalWidth > 0")
    shot("styles", doc="tracks-styles")
    card.get_by_label("Name").fill("Night series")
    card.get_by_role("button", name="Save").click()
    expect(page.locator(".series-card").first).to_contain_text("Saved.")
    expect(page.locator(".series-card h2").first).to_contain_text("Night series")

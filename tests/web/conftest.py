"""Browser tests: Playwright for Python driving Debian's Chromium against a real server.

`studio` starts `soundstage serve` (tests/e2e's Server) with its own data folder;
`page` is a fresh browser page that records console errors, page errors, failed
requests and HTTP error responses, and fails the test on any of them. `shot(name)`
saves a screenshot to tests/web/artifacts/<test>/; with
SOUNDSTAGE_DOC_SCREENSHOTS=1 the ones named for the README also go to
docs/screenshots/.

Chromium comes from Debian (`chromium`, installed by scripts/setup.sh); there is
no browser download. Without it the tests skip, except under CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.conftest import Server

CHROMIUM = Path(os.environ.get("SOUNDSTAGE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).parent / "artifacts"
DOC_SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
PASSWORD = "a long password 1"


def _require_browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[test]')"
    else:
        if CHROMIUM.exists():
            return sync_playwright
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium; scripts/setup.sh does)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    sync_playwright = _require_browser()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required", "--mute-audio"],
        )
        yield browser
        browser.close()


@pytest.fixture
def studio(tmp_path: Path, monkeypatch) -> Iterator[Server]:
    monkeypatch.setenv("SOUNDSTAGE_JOB_WORKERS", "2")
    server = Server(tmp_path / "data")
    server.start()
    yield server
    server.stop()


@dataclass
class Problems:
    """What went wrong in the browser; `allow(pattern)` excuses requests a test breaks itself."""

    items: list[str] = field(default_factory=list)
    allowed: list[re.Pattern] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def excused(self, url: str) -> bool:
        return any(p.search(url) for p in self.allowed)


def _watch(page, problems: Problems) -> None:
    def on_console(msg):
        if msg.type == "error" and not problems.excused(msg.location.get("url") or ""):
            problems.items.append(f"console error: {msg.text} ({msg.location.get('url')})")

    def on_failed(request):
        failure = request.failure or ""
        # ERR_ABORTED is the browser cancelling a request itself (the page navigated away, a
        # media element or an event stream was closed, a link became a download); a request
        # the network or the server failed has another error, and HTTP errors are below.
        if failure != "net::ERR_ABORTED" and not problems.excused(request.url):
            problems.items.append(f"request failed: {request.method} {request.url}: {failure}")

    def on_response(response):
        if response.status >= 400 and not problems.excused(response.url):
            problems.items.append(
                f"HTTP {response.status}: {response.request.method} {response.url}"
            )

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.items.append(f"page error: {error}"))
    page.on("requestfailed", on_failed)
    page.on("response", on_response)


@pytest.fixture
def problems() -> Problems:
    return Problems()


@pytest.fixture
def page(browser, problems: Problems, request) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    _watch(page, problems)
    yield page
    context.close()
    assert not problems.items, "browser problems:\n" + "\n".join(problems.items)


@pytest.fixture
def shot(page, request) -> Callable[..., Path]:
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    count = [0]

    def _shot(name: str, *, doc: str | None = None, full_page: bool = True) -> Path:
        count[0] += 1
        path = folder / f"{count[0]:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if doc and os.environ.get("SOUNDSTAGE_DOC_SCREENSHOTS") == "1":
            DOC_SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOC_SHOTS / f"{doc}.png")
        return path

    return _shot


def register(page, url: str) -> str:
    """Create an account through the register page; returns its email."""
    email = f"creator-{uuid.uuid4().hex[:6]}@example.com"
    page.goto(f"{url}/register")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{url}/")
    return email

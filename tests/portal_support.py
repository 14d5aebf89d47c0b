"""What the portal's browser tests share: Debian's Chromium driven by Playwright (async API), logged in
through the hub as a demo user, every console error and failed request collected, and screenshots of each
page, wide and narrow, in .demo/screenshots/ (the test artifacts)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

from playwright.async_api import Browser, Page, async_playwright

from conftest import DEMO, HUB_URL

PORTAL_URL = f"{HUB_URL}/services/firecrest/"
PASSWORD = os.environ.get("FIRECREST_DEMO_PASSWORD", "firecrest-demo")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run"]
SCREENSHOTS = DEMO / "screenshots"
WIDE = {"width": 1366, "height": 900}
NARROW = {"width": 400, "height": 850}


@dataclass
class Visitor:
    """A user's browser on the portal; `problems` lists console errors, page errors and failed requests."""

    page: Page
    user: str
    problems: list[str] = field(default_factory=list)

    async def open(self, path: str = "", ready: str | None = None) -> Page:
        await self.page.goto(PORTAL_URL + path)
        if ready:
            await self.page.wait_for_selector(ready)
        return self.page

    async def screenshots(self, name: str) -> None:
        """The page as it is now, wide and narrow, saved as portal-<name>-wide.png and -narrow.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for label, size in (("wide", WIDE), ("narrow", NARROW)):
            await self.page.set_viewport_size(size)
            await self.page.screenshot(path=str(SCREENSHOTS / f"portal-{name}-{label}.png"), full_page=True)
        await self.page.set_viewport_size(WIDE)

    def assert_no_problems(self) -> None:
        assert not self.problems, self.problems


@contextlib.asynccontextmanager
async def chromium():
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def log_in(browser: Browser, user: str) -> Visitor:
    """A new browser context of `user`, logged in through the hub's login form and its OAuth to the portal."""
    context = await browser.new_context(viewport=WIDE, accept_downloads=True)
    page = await context.new_page()
    page.set_default_timeout(30_000)
    visitor = Visitor(page, user)
    page.on("console", lambda message: message.type == "error" and visitor.problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: visitor.problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: _failed(visitor, request))
    await page.goto(PORTAL_URL)
    await page.wait_for_selector("#username_input")
    await page.fill("#username_input", user)
    await page.fill("#password_input", PASSWORD)
    await page.click("#login_submit")
    await page.wait_for_url(PORTAL_URL + "**")
    await page.wait_for_selector("#portal-user")
    return visitor


def _failed(visitor: Visitor, request) -> None:
    # Requests still open when the page navigates away (the event stream, a listing) are aborted: no failure.
    if request.failure in ("net::ERR_ABORTED", None):
        return
    visitor.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

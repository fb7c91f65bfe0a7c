"""Headless Chromium for the tests that open the HTML pages Pathways writes (the dashboard, the
public notice, the data dictionary).

Debian's Chromium (`/usr/bin/chromium`, installed by `make test`) driven by the `playwright`
package's own driver: no browser is downloaded (`playwright install` is never run). A test opens
a page and gets it back with a log of what went wrong while it loaded (console errors, uncaught
exceptions, failed requests) and of every URL it asked for, so a self-contained page can be shown
to ask for nothing but itself.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Headless in a container, as root, offline: no sandbox, no GPU, and none of the background
# traffic (updates, sync, QUIC probes) a desktop browser starts on its own.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@dataclass
class PageLog:
    """What happened while a page loaded and ran."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)  # uncaught exceptions
    failed_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL asked for, the page first

    @property
    def problems(self) -> list[str]:
        """Everything that went wrong: empty for a page that works."""
        return [*self.console_errors, *self.page_errors, *self.failed_requests]


@contextmanager
def open_page(url: str, *, javascript: bool = True) -> Iterator[tuple[Page, PageLog]]:
    """Open a URL (usually a file:// one) in headless Chromium, with JavaScript on or off."""
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True
            )
        except Exception as exc:
            raise RuntimeError(
                f"cannot start {CHROMIUM} ({exc}); `make test` installs it "
                "(apt-get install chromium)"
            ) from exc
        try:
            context = browser.new_context(java_script_enabled=javascript)
            page = context.new_page()
            log = PageLog()
            page.on(
                "console",
                lambda message: message.type == "error" and log.console_errors.append(message.text),
            )
            page.on("pageerror", lambda error: log.page_errors.append(str(error)))
            page.on("request", lambda request: log.requests.append(request.url))
            page.on(
                "requestfailed",
                lambda request: log.failed_requests.append(
                    f"{request.url}: {request.failure or 'failed'}"
                ),
            )
            page.goto(url, wait_until="load")
            yield page, log
        finally:
            browser.close()


def heading_levels(page: Page) -> list[int]:
    """The levels of a page's headings (h1 → 1), in document order."""
    return page.eval_on_selector_all(
        "h1, h2, h3, h4, h5, h6", "elements => elements.map(e => Number(e.tagName[1]))"
    )

"""Drive Debian's headless Chromium (``/usr/bin/chromium``) through Playwright.

Playwright's Python package talks to the browser over CDP; it is pointed at the system
browser with ``executable_path``, so ``playwright install`` (a browser download) is never
needed. Each :class:`Chromium` runs with a fresh ``--user-data-dir`` and the flags a root,
offline machine needs (see :data:`CHROMIUM_FLAGS`).

A page opened with :meth:`Chromium.open` records every network response (status, response
and request headers, resource type) from before navigation starts, so a test can prove that
a ``<video>`` was fetched with Range requests answered by 206.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from .http import Headers

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Playwright, Response

CHROMIUM_PATH = "/usr/bin/chromium"

#: Root needs --no-sandbox; the network flags stop Chromium calling Google's hosts, which this
#: machine refuses (many at a time); --no-proxy-server keeps loopback off any env proxy.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
)

WaitUntil = Literal["commit", "domcontentloaded", "load", "networkidle"]


@dataclass(frozen=True)
class NetworkResponse:
    """One response the page received."""

    url: str
    status: int
    method: str
    resource_type: str  # "document", "image", "media", "script", "fetch"...
    headers: Headers
    request_headers: Headers


class BrowserPage:
    """An open tab; :attr:`responses` fills in as the page loads (and keeps loading)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.responses: list[NetworkResponse] = []
        self.console: list[str] = []
        self.failed_requests: list[str] = []
        page.on("response", self._on_response)
        page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        page.on(
            "requestfailed",
            lambda req: self.failed_requests.append(f"{req.url}: {req.failure}"),
        )

    def _on_response(self, response: Response) -> None:
        request = response.request
        self.responses.append(
            NetworkResponse(
                url=response.url,
                status=response.status,
                method=request.method,
                resource_type=request.resource_type,
                headers=Headers(response.headers.items()),
                request_headers=Headers(request.headers.items()),
            )
        )

    def goto(self, url: str, *, wait_until: WaitUntil = "load", timeout: float = 30.0) -> int:
        """Navigate and wait; return the document's HTTP status (0 if none)."""
        response = self.page.goto(url, wait_until=wait_until, timeout=timeout * 1000)
        return response.status if response else 0

    def evaluate(self, expression: str, arg: Any = None) -> Any:
        """Evaluate JavaScript; a returned Promise is awaited (use ``async () => {...}``)."""
        return self.page.evaluate(expression, arg)

    def wait_for(self, predicate: str, *, timeout: float = 30.0, arg: Any = None) -> Any:
        """Wait until the JavaScript ``predicate`` is truthy; return its value."""
        return self.page.wait_for_function(predicate, arg=arg, timeout=timeout * 1000).json_value()

    def responses_for(self, url_part: str) -> list[NetworkResponse]:
        """The recorded responses whose URL contains ``url_part``."""
        return [r for r in self.responses if url_part in r.url]

    def screenshot(self, path: str | Path, *, full_page: bool = True) -> Path:
        """Save a PNG of the page (look at it with the file viewer)."""
        self.page.screenshot(path=str(path), full_page=full_page)
        return Path(path)

    def close(self) -> None:
        self.page.close()


class Chromium:
    """Headless Debian Chromium; use as a context manager or call :meth:`start`/:meth:`close`.

    >>> with Chromium() as browser:
    ...     page = browser.open("http://127.0.0.1:8000/")
    ...     page.evaluate("document.title")
    """

    def __init__(
        self,
        executable: str = CHROMIUM_PATH,
        *,
        extra_args: tuple[str, ...] = (),
        timeout: float = 30.0,
    ) -> None:
        self.executable = executable
        self.args = [*CHROMIUM_FLAGS, *extra_args]
        self.timeout = timeout
        self._playwright: Playwright | None = None
        self._context: BrowserContext | None = None
        self._user_data_dir: Path | None = None

    def start(self) -> Chromium:
        from playwright.sync_api import sync_playwright

        if not Path(self.executable).exists():
            raise FileNotFoundError(f"{self.executable} not found: apt-get install chromium")
        self._user_data_dir = Path(tempfile.mkdtemp(prefix="mediaserve-chromium-"))
        self._playwright = sync_playwright().start()
        try:
            self._context = self._playwright.chromium.launch_persistent_context(
                str(self._user_data_dir),
                executable_path=self.executable,
                headless=True,
                args=self.args,
                timeout=self.timeout * 1000,
            )
        except BaseException:
            self.close()
            raise
        self._context.set_default_timeout(self.timeout * 1000)
        return self

    @property
    def context(self) -> BrowserContext:
        if self._context is None:
            raise RuntimeError("Chromium is not started")
        return self._context

    @property
    def version(self) -> str:
        browser = self.context.browser
        return browser.version if browser else ""

    def new_page(self) -> BrowserPage:
        """A blank tab that already records network responses."""
        return BrowserPage(self.context.new_page())

    def open(
        self,
        url: str,
        *,
        wait_until: WaitUntil = "load",
        timeout: float | None = None,
        expect_ok: bool = True,
    ) -> BrowserPage:
        """Open ``url`` in a new tab and wait for ``wait_until`` (default: the load event).

        With ``expect_ok`` (the default) a document status of 400 or more, or none, raises.
        """
        page = self.new_page()
        status = page.goto(url, wait_until=wait_until, timeout=timeout or self.timeout)
        if expect_ok and not 0 < status < 400:
            page.close()
            raise AssertionError(
                f"GET {url} in Chromium -> {status}; failed: {page.failed_requests}"
            )
        return page

    def close(self) -> None:
        if self._context is not None:
            try:
                self._context.close()
            finally:
                self._context = None
        if self._playwright is not None:
            try:
                self._playwright.stop()
            finally:
                self._playwright = None
        if self._user_data_dir is not None:
            shutil.rmtree(self._user_data_dir, ignore_errors=True)
            self._user_data_dir = None

    def __enter__(self) -> Chromium:
        return self if self._context is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

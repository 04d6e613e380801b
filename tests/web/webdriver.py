"""A minimal W3C WebDriver client over httpx, driving Debian's chromium through chromedriver.

Enough for a person's path through the console (open, type, click, read) without a browser
automation dependency: the protocol is a handful of JSON calls.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from forewarn.demo.mailbox import free_port

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C web element identifier
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class StaleElement(RuntimeError):
    """The element belonged to a page the browser has since left."""


def available() -> bool:
    return shutil.which("chromedriver") is not None and shutil.which("chromium") is not None


class Browser:
    def __init__(self, profile: Path) -> None:
        self.port = free_port()
        self.driver = subprocess.Popen(
            ["chromedriver", f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.http.get("/status").json()["value"]["ready"]:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("chromedriver did not become ready in 30s")
            time.sleep(0.1)
        options = {"binary": shutil.which("chromium"), "args": [*FLAGS, f"--user-data-dir={profile}"]}
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=body)
        value = response.json().get("value")
        if response.status_code >= 400:
            if isinstance(value, dict) and value.get("error") == "stale element reference":
                raise StaleElement(f"webdriver {method} {path}: stale element")
            raise RuntimeError(f"webdriver {method} {path}: {value}")
        return value

    def _session(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def open(self, url: str) -> None:
        self._session("POST", "/url", {"url": url})

    def find(self, css: str) -> str:
        found = self._session("POST", "/element", {"using": "css selector", "value": css})
        if not isinstance(found, dict) or ELEMENT not in found:
            raise RuntimeError(f"no element {css!r} on {self.url()}: {found}")
        return str(found[ELEMENT])

    def type(self, css: str, text: str) -> None:
        self._session("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css: str, navigates: bool = True) -> None:
        """Click, and when the click loads a new page, return only once that page has replaced the old.

        Reading straight after a form submit otherwise races the navigation: the element found may
        belong to the page being left and go stale under the read (seen once in CI).
        """
        before = self.find("html")
        self._session("POST", f"/element/{self.find(css)}/click", {})
        if navigates:
            self._until(lambda: self._stale(before) and self._ready(), f"the page after clicking {css!r}")

    def text(self, css: str) -> str:
        deadline = time.monotonic() + 30
        while True:
            try:
                return str(self._session("GET", f"/element/{self.find(css)}/text"))
            except StaleElement:
                if time.monotonic() > deadline:
                    raise

    def _stale(self, element: str) -> bool:
        try:
            self._session("GET", f"/element/{element}/name")
        except StaleElement:
            return True
        return False

    def _ready(self) -> bool:
        script = {"script": "return document.readyState", "args": []}
        return bool(self._session("POST", "/execute/sync", script) == "complete")

    def _until(self, condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout}s for {what}")
            time.sleep(0.05)

    def url(self) -> str:
        return str(self._session("GET", "/url"))

    def close(self) -> None:
        try:
            self._session("DELETE", "")
        finally:
            self.http.close()
            self.driver.terminate()
            self.driver.wait(10)

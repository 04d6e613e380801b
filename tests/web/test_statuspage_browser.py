"""The status page as a person sees it: headless Chromium opens the page a running worker serves
while a P1 regional outage is open, then again after it resolved, and the console login renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import customer, wait_customers
from forewarn.config import Settings, SmtpSettings
from forewarn.demo.mailbox import Mailbox, free_port
from forewarn.process import WorkerProcess
from forewarn.publish import Publisher, raw_signal_from_json, wait_until

from .test_console import alert
from .webdriver import Browser, available

pytestmark = [pytest.mark.broker, pytest.mark.skipif(not available(), reason="needs chromium and chromedriver")]


def shows(browser: Browser, url: str, css: str) -> bool:
    try:
        browser.open(url)  # a reload: the page is rendered from the record on every request
        browser.find(css)
    except RuntimeError:  # not served yet (the worker's web server starts after recovery) or not shown yet
        return False
    return True


def test_status_page_in_a_browser_through_an_outage(settings: Settings, tmp_path: Path) -> None:
    with Mailbox() as mailbox:
        live = settings.model_copy(
            update={"smtp": SmtpSettings(port=mailbox.port), "web_port": free_port(), "console_token": "t0ken"}
        )
        publisher = Publisher(live)
        publisher.send("customers", customer("c-eu", regions=("eu-west",)))
        publisher.flush()
        with WorkerProcess(live, tmp_path / "worker.log") as worker:
            wait_customers(live, worker)
            publisher.send("raw", raw_signal_from_json(alert()))
            publisher.flush()
            browser = Browser(tmp_path / "chromium-profile")
            try:
                page = f"http://127.0.0.1:{live.web_port}/status"
                wait_until(
                    lambda: bool(worker.check() or shows(browser, page, "[data-indicator='critical']")),
                    120,
                    "the status page to show the outage",
                    interval_s=1.0,
                )
                assert browser.text("#status-indicator") == "Major System Outage"
                assert "Investigating" in browser.text("section.incident")
                assert browser.find("[data-component='payments'][data-status='major_outage']")
                assert "Atom feed" in browser.text("body")

                browser.open(f"http://127.0.0.1:{live.web_port}/console/approvals")
                assert browser.url().endswith("/console/login")
                assert browser.find("#token") and browser.find("#login")
            finally:
                browser.close()

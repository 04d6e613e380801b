"""`make demo` must keep working: run the bundled scenario exactly as the command does."""

from __future__ import annotations

from pathlib import Path

import pytest

from forewarn.demo.runner import run_demo


@pytest.mark.broker
def test_demo_tells_eu_west_customers_once_per_update(tmp_path: Path) -> None:
    out: list[str] = []
    result = run_demo(tmp_path / "demo", echo=out.append)
    assert result.customers == 36 and result.signals == 4
    # 16 eu-west customers with an email address x 3 incident versions (opened, identified, resolved);
    # the ack comes 32 min after the page, past P1's 30-minute cadence, so 'identified' is news
    assert result.emails_received == 48
    assert "0 duplicates; recipients outside eu-west: none" in result.summary
    assert "phase=identified" in result.summary and "phase=resolved" in result.summary
    assert "P1, regional outage" in result.summary

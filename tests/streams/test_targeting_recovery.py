"""A worker restarted on its data dir finds the customer table there with nothing to restore, and
a worker with an empty data dir recovers the customer table from its changelog (bulk restore,
then Faust's own recovery for the rest) and its index holds exactly what the first worker's did:
moves, feature changes and tombstones included."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from factories import customer
from fanout_support import publish_customers, wait_table, with_web_port, worker
from forewarn.config import Settings
from forewarn.publish import Publisher

pytestmark = pytest.mark.broker

EU, US = ("eu-west",), ("us-east",)


def show(settings: Settings, cid: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/customers/{cid}", timeout=5) as r:
            return dict(json.load(r))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def test_cold_recovery_rebuilds_the_table_and_index_exactly(settings: Settings, tmp_path: Path) -> None:
    settings = with_web_port(settings)
    for sub in ("first", "warm", "cold"):
        (tmp_path / sub).mkdir()
    ids = [f"c{n:03d}" for n in range(40)]
    publish_customers(
        settings,
        [customer(c, regions=EU if n % 2 else US, features=["billing"] if n % 3 else []) for n, c in enumerate(ids)],
    )
    with worker(settings, tmp_path / "first") as proc:
        wait_table(settings, proc, 40)
        publish_customers(
            settings,
            [
                customer("c001", regions=US),
                customer("c002", regions=EU + US, features=["search", "api"]),
                customer("c099", regions=EU),
            ],
        )
        publisher = Publisher(settings)
        for cid in ("c003", "c004", "c099"):  # c099 arrives and leaves
            publisher.send_bytes("customers", None, key=cid.encode())
        publisher.close()
        wait_table(settings, proc, 38)
        before = {cid: show(settings, cid) for cid in [*ids, "c099"]}

    # The same data dir again: every change was written with its changelog offset, so there is
    # nothing to restore (a persisted offset left behind would restore the whole changelog again).
    with worker(settings, tmp_path / "warm") as proc:
        wait_table(settings, proc, 38)
        warm = {cid: show(settings, cid) for cid in [*ids, "c099"]}
    assert warm == before
    assert "bulk-restored" not in (tmp_path / "warm" / "worker.log").read_text()

    cold = settings.model_copy(update={"data_dir": tmp_path / "cold" / "data"})
    with worker(cold, tmp_path / "cold") as proc:
        wait_table(cold, proc, 38)
        after = {cid: show(cold, cid) for cid in [*ids, "c099"]}

    assert after == before
    assert before["c003"] is None and before["c099"] is None
    assert before["c001"] is not None and before["c001"]["index"]["regions"] == ["us-east"]
    assert before["c002"] is not None and before["c002"]["index"]["features"] == ["api", "search"]
    assert "bulk-restored" in (tmp_path / "cold" / "worker.log").read_text()

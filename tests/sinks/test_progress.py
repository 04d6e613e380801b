"""The writers' claims on audit partitions, without ClickHouse: which records need the replay check."""

from __future__ import annotations

from forewarn.sinks.progress import Claims, Mark


def test_a_partition_nobody_claimed_is_checked_once_then_claimed() -> None:
    claims = Claims(reserve=100, writer="w1")
    plan = claims.plan({}, {0: 9})
    assert plan.check_through == {0: 9}  # every record of this batch
    assert plan.claims == [(0, Mark(1, 109, "w1"))]
    plan = claims.plan({0: Mark(1, 109, "w1")}, {0: 19})
    assert plan.check_through == {0: 9} and plan.claims == []  # records past 9 need no check, no write


def test_the_next_stretch_is_claimed_before_the_batch_passes_the_reservation() -> None:
    claims = Claims(reserve=100, writer="w1")
    claims.plan({}, {0: 9})
    plan = claims.plan({0: Mark(1, 109, "w1")}, {0: 150})
    assert plan.check_through == {0: 9}
    assert plan.claims == [(0, Mark(2, 250, "w1"))]


def test_another_writers_claim_makes_everything_up_to_it_suspect() -> None:
    claims = Claims(reserve=100, writer="w1")
    claims.plan({}, {0: 9})
    plan = claims.plan({0: Mark(2, 300, "w2")}, {0: 20})  # w2 held the partition meanwhile
    assert plan.check_through == {0: 300}
    assert plan.claims == [(0, Mark(3, 400, "w1"))]


def test_a_claim_that_did_not_land_is_started_again() -> None:
    claims = Claims(reserve=100, writer="w1")
    claims.plan({0: Mark(4, 50, "w0")}, {0: 60})  # its claim (5, 160) failed to store, so no rows went in
    plan = claims.plan({0: Mark(4, 50, "w0")}, {0: 60})
    assert plan.check_through == {0: 50}
    assert plan.claims == [(0, Mark(5, 160, "w1"))]


def test_a_retried_batch_is_checked_by_the_writer_that_stored_it() -> None:
    claims = Claims(reserve=100, writer="w1")
    claims.plan({}, {0: 9})
    mine = {0: Mark(1, 109, "w1")}
    claims.plan(mine, {0: 30})  # its rows may be stored, in part
    assert claims.plan(mine, {0: 30}).check_through == {0: 30}


def test_partitions_are_planned_apart() -> None:
    claims = Claims(reserve=10, writer="w1")
    plan = claims.plan({1: Mark(7, 70, "w9")}, {0: 5, 1: 75})
    assert plan.check_through == {0: 5, 1: 70}
    assert plan.claims == [(0, Mark(1, 15, "w1")), (1, Mark(8, 85, "w1"))]

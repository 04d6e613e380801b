"""TableFreshness: targeting waits for what the customers topic held when it asked, no more,
and never longer than its cap."""

from __future__ import annotations

import asyncio

from faust.types import TP

from forewarn.streams.freshness import TableFreshness

TOPIC = "fw.customers"


class Consumer:
    """What TableFreshness asks Faust's consumer: end offsets, committed and delivered offsets, position."""

    def __init__(self, end: dict[int, int], committed: dict[int, int] | None = None) -> None:
        self.end = end
        self._committed_offset: dict[TP, int] = {TP(TOPIC, p): o for p, o in (committed or {}).items()}
        self._read_offset: dict[TP, int] = {}
        self.positions: dict[int, int] = {}

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.end[tp.partition] for tp in tps}

    async def position(self, tp: TP) -> int | None:
        return self.positions.get(tp.partition)


class App:
    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer


def freshness(
    end: dict[int, int], committed: dict[int, int] | None = None, wait_s: float = 30, settle_s: float = 2.0
) -> TableFreshness:
    return TableFreshness(App(Consumer(end, committed)), TOPIC, wait_s, settle_s)


def test_what_the_group_committed_before_this_process_counts_as_applied() -> None:
    fresh = freshness({0: 500}, committed={0: 500})
    assert asyncio.run(fresh.caught_up(0, "test")) == 0
    assert fresh.waited == 0


def test_waits_until_the_agent_has_applied_up_to_the_end_offset_it_saw() -> None:
    async def scenario() -> list[str]:
        fresh, steps = freshness({0: 100, 1: 0}), []

        async def targeting() -> None:
            missing = await fresh.caught_up(0, "test")
            steps.append(f"targeted, {missing} missing")

        async def customers_agent() -> None:
            for last in (49, 98, 99):  # three batches; the wait ends with the third
                fresh.applied(0, last)
                steps.append(f"applied to {last}")
                await fresh.notify()
                await asyncio.sleep(0)  # let the waiter look (not synchronisation: order is asserted)

        waiter = asyncio.create_task(targeting())
        await asyncio.sleep(0)  # the request comes first
        await customers_agent()
        await waiter
        assert fresh.waited == 1  # it did wait: it started before the first batch
        return steps

    assert asyncio.run(scenario()) == ["applied to 49", "applied to 98", "applied to 99", "targeted, 0 missing"]


def test_records_arriving_after_the_request_are_not_waited_for() -> None:
    async def scenario() -> tuple[int, int]:
        consumer = Consumer({0: 10})
        fresh = TableFreshness(App(consumer), TOPIC, 30)
        waiter = asyncio.create_task(fresh.caught_up(0, "test"))
        await asyncio.sleep(0)
        consumer.end[0] = 10_000  # a busy topic keeps growing
        fresh.applied(0, 9)
        await fresh.notify()
        return await waiter, fresh.waited

    assert asyncio.run(scenario()) == (0, 1)


def test_past_the_cap_it_goes_on_and_says_how_far_behind() -> None:
    fresh = freshness({0: 100}, committed={0: 40}, wait_s=0.01)
    fresh.applied(0, 59)
    assert asyncio.run(fresh.caught_up(0, "test")) == 40
    assert (fresh.waited, fresh.stale) == (1, 1)


def test_an_empty_partition_never_waits() -> None:
    assert asyncio.run(freshness({0: 0}).caught_up(0, "test")) == 0


def test_a_rebalance_ends_the_wait_at_once() -> None:
    """Faust stops the flow and waits for the agents to finish what they hold: waiting on for the
    table would hold the rebalance up until the cap."""
    fresh = freshness({0: 100}, wait_s=600)
    fresh.app.consumer.flow_active = False
    assert asyncio.run(fresh.caught_up(0, "test")) == 100
    assert fresh.stale == 1


def test_a_log_ending_in_offsets_no_agent_sees_settles_once_read_past_and_idle() -> None:
    """A transactional producer's last commit marker takes an offset that is never handed to the
    agent: applied stays one short of the end. Read past it, everything handed applied, the agent
    idle: the partition is caught up, and the next request with the same end needs no settling."""
    fresh = freshness({0: 101}, committed={0: 100}, settle_s=0.01)
    consumer = fresh.app.consumer
    consumer.positions[0] = 101
    assert asyncio.run(fresh.caught_up(0, "test")) == 0
    assert (fresh.waited, fresh.stale) == (1, 0)
    assert asyncio.run(fresh.caught_up(0, "again")) == 0 and fresh.waited == 1


def test_records_handed_to_the_agent_but_not_applied_are_still_waited_for() -> None:
    fresh = freshness({0: 101}, committed={0: 40}, wait_s=0.2, settle_s=0.01)
    consumer = fresh.app.consumer
    consumer.positions[0] = 101  # fetched to the end...
    consumer._read_offset[TP(TOPIC, 0)] = 99  # ...and handed over, but applied only to 59
    fresh.applied(0, 59)
    assert asyncio.run(fresh.caught_up(0, "test")) == 41
    assert fresh.stale == 1


def test_a_consumer_not_read_past_the_end_is_not_settled() -> None:
    fresh = freshness({0: 101}, committed={0: 100}, wait_s=0.2, settle_s=0.01)
    fresh.app.consumer.positions[0] = 100
    assert asyncio.run(fresh.caught_up(0, "test")) == 1


def test_a_partition_no_longer_assigned_is_not_settled() -> None:
    from aiokafka.errors import IllegalStateError

    class Revoked(Consumer):
        async def position(self, tp: TP) -> int | None:
            raise IllegalStateError("No current assignment for partition")

    fresh = TableFreshness(App(Revoked({0: 101}, {0: 100})), TOPIC, 0.2, settle_s=0.01)
    assert asyncio.run(fresh.caught_up(0, "test")) == 1


def test_a_warm_start_on_a_log_ending_in_a_marker_settles() -> None:
    """After a restart Faust's delivered offset is the committed one (it seeked there), not a record held."""
    fresh = freshness({0: 101}, committed={0: 100}, settle_s=0.01)
    fresh.app.consumer._read_offset[TP(TOPIC, 0)] = 100
    fresh.app.consumer.positions[0] = 101
    assert asyncio.run(fresh.caught_up(0, "test")) == 0


def test_a_batch_being_applied_is_not_settled() -> None:
    fresh = freshness({0: 101}, committed={0: 100}, wait_s=0.2, settle_s=0.01)
    fresh.app.consumer.positions[0] = 101
    fresh.busy = True
    assert asyncio.run(fresh.caught_up(0, "test")) == 1

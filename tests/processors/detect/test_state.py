from hypothesis import given
from hypothesis import strategies as st

from forewarn.policy import Policy
from forewarn.processors.detect import detector
from forewarn.processors.detect.state import MAX_SEEN, GroupState


@given(st.lists(st.integers(min_value=0, max_value=MAX_SEEN * 2), max_size=MAX_SEEN * 3), st.integers(0, MAX_SEEN * 2))
def test_seen_is_membership_in_the_states_recent_ids(ids: list[int], probe_at: int) -> None:
    """The index behind duplicate detection follows ``state.seen`` through appends and evictions."""
    state = GroupState()
    run = detector._Run(detector.Detector(Policy()), state, "eu-west", ())
    for n, ident in enumerate(ids):
        if n == probe_at:
            assert not run.seen("never")  # builds the index part way through
        run.remember(f"id{ident}")
    assert len(state.seen) <= MAX_SEEN
    later = detector._Run(detector.Detector(Policy()), state, "eu-west", ())  # the next batch's
    for ident in range(MAX_SEEN * 2 + 1):
        assert run.seen(f"id{ident}") == later.seen(f"id{ident}") == (f"id{ident}" in state.seen)


def test_remember_reports_what_it_pushed_out() -> None:
    state = GroupState()
    assert [state.remember(f"id{n}") for n in range(MAX_SEEN)] == [[]] * MAX_SEEN
    assert state.remember("new") == ["id0"]
    assert state.seen[0] == "id1" and state.seen[-1] == "new" and len(state.seen) == MAX_SEEN

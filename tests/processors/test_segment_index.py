from forewarn.processors.segment_index import SegmentIndex


def test_index_follows_upserts_moves_and_deletes() -> None:
    idx = SegmentIndex()
    idx.upsert(0, "a", ["eu-west"])
    idx.upsert(0, "b", ["eu-west", "us-east"])
    idx.upsert(1, "c", ["eu-west"])
    assert list(idx.candidates(0, ["eu-west"])) == ["a", "b"]
    idx.upsert(0, "a", ["us-east"])  # moved region
    assert list(idx.candidates(0, ["eu-west"])) == ["b"]
    assert list(idx.candidates(0, ["us-east"])) == ["a", "b"]
    idx.remove(0, "b")
    assert list(idx.candidates(0, ["eu-west", "us-east"])) == ["a"]
    assert list(idx.candidates(1, [])) == ["c"]
    idx.drop_partition(1)
    assert len(idx) == 1

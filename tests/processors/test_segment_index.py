from forewarn.processors.segment_index import Profile, SegmentIndex


def profile(regions: tuple[str, ...] = ("eu-west",), features: tuple[str, ...] = ("payments",)) -> Profile:
    return Profile("pro", False, regions, features, frozenset({"email"}))


def test_index_follows_upserts_moves_and_deletes() -> None:
    idx = SegmentIndex()
    idx.upsert(0, "a", profile(("eu-west",)))
    idx.upsert(0, "b", profile(("eu-west", "us-east")))
    idx.upsert(1, "c", profile(("eu-west",)))
    assert idx.candidates(0, ["eu-west"]) == ["a", "b"]
    idx.upsert(0, "a", profile(("us-east",)))  # moved region
    assert idx.candidates(0, ["eu-west"]) == ["b"]
    assert idx.candidates(0, ["us-east"]) == ["a", "b"]
    assert idx.regions_of(0, "a") == ["us-east"]
    idx.remove(0, "b")
    assert idx.candidates(0, ["eu-west", "us-east"]) == ["a"]
    assert idx.candidates(1, []) == ["c"]
    assert idx.row(0, "b") is None
    idx.remove(0, "b")  # deleting twice (a replayed tombstone) is harmless
    idx.drop_partition(1)
    assert len(idx) == 1


def test_feature_index_follows_updates_and_intersects_with_regions() -> None:
    idx = SegmentIndex()
    idx.upsert(0, "a", profile(("eu-west",), ("payments", "reports")))
    idx.upsert(0, "b", profile(("eu-west",), ("reports",)))
    idx.upsert(0, "c", profile(("us-east",), ("payments",)))
    assert idx.candidates(0, ["eu-west"], ["payments"]) == ["a"]
    assert idx.candidates(0, [], ["payments"]) == ["a", "c"]
    idx.upsert(0, "a", profile(("eu-west",), ("reports",)))  # stopped using payments
    assert idx.candidates(0, ["eu-west"], ["payments"]) == []
    assert idx.features_of(0, "a") == ["reports"]
    idx.upsert(0, "b", profile(("eu-west",), ("payments",)))
    assert idx.candidates(0, ["eu-west"], ["payments", "billing"]) == ["b"]
    idx.remove(0, "c")
    assert idx.candidates(0, [], ["payments"]) == ["b"]
    assert idx.features_of(0, "c") == []


def test_unknown_region_or_feature_matches_nobody_and_empty_keys_are_dropped() -> None:
    idx = SegmentIndex()
    idx.upsert(0, "a", profile(("eu-west",)))
    assert idx.candidates(0, ["ap-south"]) == []
    assert idx.candidates(3, ["eu-west"]) == []
    idx.upsert(0, "a", profile(("us-east",)))
    assert "eu-west" not in idx._regions[0]


def test_profiles_are_shared_and_activity_is_counted() -> None:
    idx = SegmentIndex()
    idx.upsert(0, "a", profile(), last_active_s=100)
    idx.upsert(0, "b", profile(), last_active_s=50)
    idx.upsert(0, "c", profile(), last_active_s=0)
    row_a, row_b = idx.row(0, "a"), idx.row(0, "b")
    assert row_a is not None and row_b is not None and row_a[0] is row_b[0]
    assert idx.active_since(0, 60) == 1
    assert idx.active_since(0, None) == 3
    idx.keep_only([1])
    assert len(idx) == 0 and idx.partitions() == []

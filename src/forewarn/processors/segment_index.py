"""In-partition secondary indexes and a compact projection of the customer table.

Targeting asks one partition "who in region X using feature Y?"; scanning and decoding
every customer for every incident update would not scale, so each partition keeps, next to
its table, region -> ids and feature -> ids indexes plus the little targeting needs to know
about each customer (a ``Profile`` and a last-active time). Full segments are decoded only
for the customers who will actually be messaged.

Memory matters at millions of customers: profiles are interned (most customers share one),
the id strings are the only per-customer strings, and last-active is whole seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Profile:
    """What targeting filters on; customers with the same answers share one instance."""

    plan: str
    enterprise: bool
    regions: tuple[str, ...]
    features: tuple[str, ...]
    #: Channels the customer has at least one recipient on.
    reach: frozenset[str]


#: (profile, last active in epoch seconds, 0 when never seen active)
Row = tuple[Profile, int]

#: A row is stored as one int: profile number << ACTIVE_BITS | last active (epoch seconds);
#: a tuple and a second int per customer cost ~90 bytes more, ~180 MB at two million.
ACTIVE_BITS = 36
ACTIVE_MASK = (1 << ACTIVE_BITS) - 1


class SegmentIndex:
    def __init__(self) -> None:
        self._rows: dict[int, dict[str, int]] = {}
        self._regions: dict[int, dict[str, set[str]]] = {}
        self._features: dict[int, dict[str, set[str]]] = {}
        self._profile_numbers: dict[Profile, int] = {}
        self._profiles: list[Profile] = []

    def _number(self, profile: Profile) -> int:
        number = self._profile_numbers.get(profile)
        if number is None:
            number = self._profile_numbers[profile] = len(self._profiles)
            self._profiles.append(profile)
        return number

    def upsert(self, partition: int, customer_id: str, profile: Profile, last_active_s: int = 0) -> None:
        """File the customer under its regions and features, leaving the ones it no longer has."""
        rows = self._rows.setdefault(partition, {})
        old = rows.get(customer_id)
        number = self._number(profile)
        rows[customer_id] = number << ACTIVE_BITS | min(max(last_active_s, 0), ACTIVE_MASK)
        by_region = self._regions.setdefault(partition, {})
        by_feature = self._features.setdefault(partition, {})
        if old is None:
            _add(by_region, profile.regions, customer_id)
            _add(by_feature, profile.features, customer_id)
        elif old >> ACTIVE_BITS != number:
            before = self._profiles[old >> ACTIVE_BITS]
            _discard(by_region, set(before.regions) - set(profile.regions), customer_id)
            _add(by_region, set(profile.regions) - set(before.regions), customer_id)
            _discard(by_feature, set(before.features) - set(profile.features), customer_id)
            _add(by_feature, set(profile.features) - set(before.features), customer_id)

    def remove(self, partition: int, customer_id: str) -> None:
        rows = self._rows.get(partition)
        if rows is None or customer_id not in rows:
            return
        profile = self._profiles[rows.pop(customer_id) >> ACTIVE_BITS]
        _discard(self._regions.get(partition, {}), profile.regions, customer_id)
        _discard(self._features.get(partition, {}), profile.features, customer_id)

    def drop_partition(self, partition: int) -> None:
        self._rows.pop(partition, None)
        self._regions.pop(partition, None)
        self._features.pop(partition, None)

    def keep_only(self, partitions: Iterable[int]) -> None:
        """Forget partitions this worker no longer holds (after a rebalance)."""
        keep = set(partitions)
        for partition in list(self._rows):
            if partition not in keep:
                self.drop_partition(partition)

    def candidates(self, partition: int, regions: Iterable[str], features: Iterable[str] = ()) -> list[str]:
        """Customers of the partition in any of the regions and using any of the features, sorted.

        No region means every region; no feature means every feature.
        """
        sets = [
            _union(self._regions.get(partition, {}), regions),
            _union(self._features.get(partition, {}), features),
        ]
        wanted = [s for s in sets if s is not None]
        if not wanted:
            return sorted(self._rows.get(partition, {}))
        wanted.sort(key=len)
        smallest, *others = wanted
        return sorted(c for c in smallest if all(c in other for other in others))

    def row(self, partition: int, customer_id: str) -> Row | None:
        packed = self._rows.get(partition, {}).get(customer_id)
        return None if packed is None else (self._profiles[packed >> ACTIVE_BITS], packed & ACTIVE_MASK)

    def partitions(self) -> list[int]:
        return sorted(self._rows)

    def size(self, partition: int) -> int:
        return len(self._rows.get(partition, {}))

    def active_since(self, partition: int, since_s: int | None) -> int:
        """Customers of the partition active at or after ``since_s`` (all of them when None)."""
        rows = self._rows.get(partition, {})
        if since_s is None:
            return len(rows)
        return sum(1 for packed in rows.values() if packed & ACTIVE_MASK >= since_s)

    def regions_of(self, partition: int, customer_id: str) -> list[str]:
        """The region keys the id is filed under (for `customers show`: index and table must agree)."""
        return sorted(r for r, ids in self._regions.get(partition, {}).items() if customer_id in ids)

    def features_of(self, partition: int, customer_id: str) -> list[str]:
        return sorted(f for f, ids in self._features.get(partition, {}).items() if customer_id in ids)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._rows.values())


def _union(index: dict[str, set[str]], keys: Iterable[str]) -> set[str] | None:
    wanted = list(keys)
    if not wanted:
        return None
    if len(wanted) == 1:
        return index.get(wanted[0], set())
    found: set[str] = set()
    for key in wanted:
        found |= index.get(key, set())
    return found


def _add(index: dict[str, set[str]], keys: Iterable[str], customer_id: str) -> None:
    for key in keys:
        index.setdefault(key, set()).add(customer_id)


def _discard(index: dict[str, set[str]], keys: Iterable[str], customer_id: str) -> None:
    for key in keys:
        ids = index.get(key)
        if ids is not None:
            ids.discard(customer_id)
            if not ids:
                del index[key]

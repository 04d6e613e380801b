"""In-partition secondary indexes over the customer table (region -> customer ids).

Targeting asks one partition "who in region X?"; scanning every customer for every
incident update would not scale, so each partition keeps this index next to its table
and updates it on every upsert and delete.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

ALL_REGIONS = "*"


class SegmentIndex:
    def __init__(self) -> None:
        self._regions: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._where: dict[int, dict[str, tuple[str, ...]]] = defaultdict(dict)

    def upsert(self, partition: int, customer_id: str, regions: Iterable[str]) -> None:
        self.remove(partition, customer_id)
        keys = tuple(sorted(set(regions))) or (ALL_REGIONS,)
        by_region = self._regions[partition]
        for region in keys:
            by_region[region].add(customer_id)
        self._where[partition][customer_id] = keys

    def remove(self, partition: int, customer_id: str) -> None:
        keys = self._where[partition].pop(customer_id, ())
        by_region = self._regions[partition]
        for region in keys:
            ids = by_region.get(region)
            if ids is not None:
                ids.discard(customer_id)
                if not ids:
                    del by_region[region]

    def drop_partition(self, partition: int) -> None:
        self._regions.pop(partition, None)
        self._where.pop(partition, None)

    def candidates(self, partition: int, regions: Iterable[str]) -> Iterator[str]:
        """Customers of the partition in any of the regions (all customers when no region is given)."""
        wanted = list(regions)
        if not wanted:
            yield from sorted(self._where[partition])
            return
        by_region = self._regions[partition]
        found: set[str] = set()
        for region in wanted:
            found |= by_region.get(region, set())
        yield from sorted(found)

    def __len__(self) -> int:
        return sum(len(w) for w in self._where.values())

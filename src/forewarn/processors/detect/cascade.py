"""Cascades: failing components below a customer-facing service share its incident thread.

The policy's ``depends_on`` edges form a graph. Services connected by it (directly or not)
form one *thread group*, named by its alphabetically first service; ingest keys signals by
``group|region`` so every incident a cascade could link is decided in one partition, in the
order the signals arrived. A service nobody depends on and that depends on nothing is its own
group, so unrelated services keep the ``service|region`` partitioning of the events topic.

Within a group, an open incident whose service some open, customer-facing incident's service
depends on (transitively) becomes a sub-issue of the topmost such incident: it names it as
``parent_incident_id`` and stays internal, and the parent lists it in ``affected_services``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from forewarn.policy import ServicePolicy


class ServiceGraph:
    def __init__(self, services: Mapping[str, ServicePolicy]) -> None:
        self._facing = {name: s.customer_facing for name, s in services.items()}
        self._dependents: dict[str, set[str]] = {}
        neighbours: dict[str, set[str]] = {}
        for name, service in services.items():
            for upstream in service.depends_on:
                self._dependents.setdefault(upstream, set()).add(name)
                neighbours.setdefault(name, set()).add(upstream)
                neighbours.setdefault(upstream, set()).add(name)
        self._group: dict[str, str] = {}
        for start in sorted(neighbours):
            if start in self._group:
                continue
            component, frontier = {start}, [start]
            while frontier:
                for other in neighbours[frontier.pop()]:
                    if other not in component:
                        component.add(other)
                        frontier.append(other)
            name = min(component)
            self._group.update(dict.fromkeys(component, name))
        self.above = cache(self._above)

    def group(self, service: str) -> str:
        return self._group.get(service, service)

    def customer_facing(self, service: str) -> bool:
        return self._facing.get(service, True)

    def _above(self, service: str) -> frozenset[str]:
        """Every service that depends on ``service``, directly or through others."""
        found: set[str] = set()
        frontier = [service]
        while frontier:
            for dependent in self._dependents.get(frontier.pop(), ()):
                if dependent not in found:
                    found.add(dependent)
                    frontier.append(dependent)
        found.discard(service)
        return frozenset(found)


@dataclass(frozen=True, slots=True)
class Member:
    """What the thread needs to know of one open incident."""

    incident_id: str
    service: str
    opened_at_ms: int


def parents(members: Iterable[Member], graph: ServiceGraph) -> dict[str, str | None]:
    """incident id -> the incident whose thread it joins (None: it leads its own thread)."""
    members = sorted(members, key=lambda m: (m.opened_at_ms, m.incident_id))
    out: dict[str, str | None] = {}
    for member in members:
        above = graph.above(member.service)
        candidates = [
            m
            for m in members
            if m.service in above
            and graph.customer_facing(m.service)
            and member.service not in graph.above(m.service)  # a dependency cycle has no top
        ]
        tops = [c for c in candidates if not any(o.service in graph.above(c.service) for o in candidates)]
        out[member.incident_id] = tops[0].incident_id if tops else None
    return out

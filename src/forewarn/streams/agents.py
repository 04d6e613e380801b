"""Which stages a worker runs. Roles let one deployment run everything in one worker and
another split the pipeline, the sinks and the audit writer across processes."""

from __future__ import annotations

PIPELINE, SINKS, AUDIT, WEB = "pipeline", "sinks", "audit", "web"
ROLES = frozenset({PIPELINE, SINKS, AUDIT, WEB})

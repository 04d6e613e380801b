"""What can go wrong with the warehouse, typed by what the caller should do about it.

The worker needs to tell "try again later, keep the offsets" (``WarehouseUnavailable``) apart
from "this batch or this query is wrong" (``WarehouseQueryError``) and from "fix the setup"
(``WarehouseConfigError``, ``EmbeddedStoreLocked``); the CLI prints any of them as one line.
"""

from __future__ import annotations


class WarehouseError(Exception):
    """Base of every failure raised by ``forewarn.db``."""


class WarehouseConfigError(WarehouseError):
    """The DSN or the migration files are unusable; retrying will not help."""


class WarehouseUnavailable(WarehouseError):
    """The server could not be reached: stop committing offsets and retry the batch later."""


class EmbeddedStoreLocked(WarehouseError):
    """Another process owns the chdb data dir; chdb lets only one process open it."""

    def __init__(self, path: str, pid: int | None) -> None:
        owner = f"another running forewarn process (pid {pid}, a worker?)" if pid else "another running process"
        super().__init__(
            f"the embedded store at {path} is owned by {owner}; stop it or query through the worker's endpoint"
        )
        self.path = path
        self.pid = pid


class WarehouseQueryError(WarehouseError):
    """ClickHouse rejected a statement; the message is ClickHouse's own."""

    def __init__(self, message: str, sql: str) -> None:
        super().__init__(message)
        self.sql = sql


class ReadOnlyViolation(WarehouseError):
    """An analyst query tried to do more than read."""


class MigrationError(WarehouseConfigError):
    """The migration files and the recorded history disagree."""

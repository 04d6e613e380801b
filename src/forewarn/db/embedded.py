"""Who owns an embedded (chdb) data dir, so a second process gets a useful error.

chdb, like clickhouse-server, holds an exclusive ``flock`` on ``<data dir>/status`` (which
records the owner's PID) for as long as the engine is open. When another process holds it,
chdb only reports "Error initializing EmbeddedServer", which says nothing about the worker
that is actually in the way; reading the lock ourselves lets us name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from pathlib import Path

_PID_LINE = re.compile(r"^PID:\s*(\d+)", re.MULTILINE)


def _recorded_pid(status: Path) -> int | None:
    try:
        match = _PID_LINE.search(status.read_text(errors="replace"))
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_locked(status: Path) -> bool:
    """Whether some process holds the status file's flock (a shared probe, released at once)."""
    try:
        fd = os.open(status, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def foreign_owner(data_dir: Path) -> int | None:
    """PID of another live process holding ``data_dir`` open, else ``None``.

    Checked before opening so the caller never races chdb for the lock when the status file
    plainly names a different live process; a stale file left by a crash (dead PID) or our
    own engine (our PID) is not an owner.
    """
    status = data_dir / "status"
    pid = _recorded_pid(status)
    if pid is None or pid == os.getpid() or not _is_alive(pid):
        return None
    return pid if _is_locked(status) else None


def locked_by_other(data_dir: Path) -> tuple[bool, int | None]:
    """After chdb refused to open: is the dir locked by someone else, and by which PID if known."""
    status = data_dir / "status"
    pid = _recorded_pid(status)
    if pid == os.getpid():
        return False, None
    return _is_locked(status), pid

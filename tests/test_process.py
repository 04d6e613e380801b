"""A worker child that exits says why: its first error, not only Faust's shutdown chatter."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from forewarn.config import Settings
from forewarn.process import WorkerProcess

CRASHING = """
import sys
print("[INFO] starting")
print("[ERROR] [^--Consumer]: the thing that went wrong")
print("Traceback (most recent call last):")
print("ValueError: the reason")
for n in range(60):
    print(f"[INFO] [^---Service {n}]: Stopping...")
sys.exit(1)
"""


def test_check_names_the_first_error_of_an_exited_worker(tmp_path: Path) -> None:
    worker = WorkerProcess(Settings(data_dir=tmp_path), tmp_path / "worker.log")
    worker.args = [sys.executable, "-c", CRASHING]
    worker.start()
    assert worker.proc is not None
    worker.proc.wait(30)
    with pytest.raises(RuntimeError) as raised:
        worker.check()
    message = str(raised.value)
    assert "worker exited with 1" in message
    assert "the thing that went wrong" in message  # 60 lines before the tail: only the cause shows it
    assert "ValueError: the reason" in message
    assert "Service 59" in message  # and the tail still follows


def test_a_clean_log_has_no_cause(tmp_path: Path) -> None:
    worker = WorkerProcess(Settings(data_dir=tmp_path), tmp_path / "worker.log")
    (tmp_path / "worker.log").write_text("[INFO] fine\n[WARNING] a retry\n")
    assert worker.log_cause() == ""

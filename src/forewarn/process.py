"""Workers as child processes: how the demo, replays and crash tests run the pipeline.

A child process is what production runs, so killing one mid-delivery is a real crash,
not a simulated one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from forewarn.config import Settings


class WorkerProcess:
    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        *,
        roles: str | None = None,
        policy: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.log_path = log_path
        self.args = [sys.executable, "-m", "forewarn", "worker", "--loglevel", "info"]
        if roles:
            self.args += ["--roles", roles]
        if policy:
            self.args += ["--policy", str(policy)]
        self.env = {**os.environ, **settings.to_env(), **(extra_env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check(self) -> None:
        """Raise with the log's first error and its tail if the worker has exited: waits use
        this to fail fast. The tail alone is Faust's shutdown of every service, which hides why."""
        if self.proc is not None and self.proc.poll() is not None:
            cause = self.log_cause()
            first = f"first error in {self.log_path}:\n{cause}\n...\n" if cause else ""
            raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{first}{self.log_tail()}")

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM and wait: Faust commits offsets and closes the store on a clean stop."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, with no chance to commit or clean up."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log_cause(self, lines: int = 30) -> str:
        """The log from its first error or traceback on ("" when there is none)."""
        try:
            logged = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        for n, line in enumerate(logged):
            if "[ERROR]" in line or "[CRITICAL]" in line or line.startswith("Traceback"):
                return "\n".join(logged[n : n + lines])
        return ""

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""A single-node KRaft Kafka that forewarn starts itself, for development, demos and tests.

A fresh machine needs only Java and Maven: the jars come from ``deploy/kafka/pom.xml`` into
``.cache/kafka/libs`` and the broker runs from a plain ``java`` command, so there is no
Docker daemon or downloaded tarball to manage. The broker lives in one *home* directory
(config, data, logs, pid file) and keeps its data across restarts.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

log = logging.getLogger(__name__)

POM = Path("deploy/kafka/pom.xml")
LOG4J2_CONFIG = Path("deploy/kafka/log4j2.properties")
LIBS = Path(".cache/kafka/libs")

# Startup is what the test suite and the demo wait on, on a 2-core machine shared with the tests
# and workers. Measured here (Kafka 4.1.1, JDK 17, spawn to first metadata answer, noisy):
#   default G1 + tiered JIT 2.7-3.7 s; SerialGC 2.3-3.0 s; SerialGC + C1 only 2.1-2.2 s;
#   plus an AppCDS archive of the broker's classes 1.1-1.4 s (and `StorageTool format` 1.5 -> 0.8 s).
# SerialGC: one GC thread instead of G1's workers fighting the tests for two cores; a 512 MB heap
# gains nothing from G1. C1 only (TieredStopAtLevel=1): throughput did not suffer where the Python
# clients are the bottleneck (500k x 300 B produce 1.4-1.8 s vs 1.5-4.8 s with C2, consume 3.6-4.7 s
# vs 4.0-4.2 s, 2000 acks=all round trips 0.6-0.9 s vs 1.2 s), and C2 burns CPU compiling while
# the tests run. Benchmarks of the broker itself should use a real cluster, not this.
# The CDS archive is dumped once per JDK + jar set, on the first clean stop (which then takes ~3 s).
JVM_FLAGS: tuple[str, ...] = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Xlog:cds*=off",  # archive mismatches only cost speed; keep them out of kafka.out
    "-Djava.awt.headless=true",
)


class BrokerError(RuntimeError):
    """The local broker could not be fetched, started or stopped."""


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    home: Path
    log_path: Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (racy, good enough locally)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def repo_root() -> Path:
    """The checkout holding ``deploy/kafka``: above the package (editable install) or the cwd."""
    here = Path(__file__).resolve()
    candidates = [*here.parents, Path.cwd(), *Path.cwd().parents]
    for candidate in candidates:
        if (candidate / POM).is_file():
            return candidate
    raise BrokerError(f"cannot find {POM} above {here.parent} or {Path.cwd()}; run from the forewarn checkout")


def _port_in_use(port: int) -> bool:
    # SO_REUSEADDR like the JVM's server sockets, so TIME_WAIT leftovers of a previous run on the
    # same port do not count as "taken"; only a live listener does.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def _random_cluster_id() -> str:
    """Kafka's ``Uuid.randomUuid()`` without starting a JVM just for it (saves ~0.5 s)."""
    while True:
        raw = os.urandom(16)
        text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        if int.from_bytes(raw, "big") > 1 and not text.startswith("-"):  # 0 and 1 are reserved
            return text


def _tail(paths: Iterable[Path], lines: int = 40) -> str:
    parts = []
    for path in paths:
        if path.is_file() and path.stat().st_size:
            with path.open("rb") as f:
                f.seek(max(0, path.stat().st_size - 64 * 1024))
                text = f.read().decode(errors="replace").splitlines()[-lines:]
            parts.append(f"--- last lines of {path} ---\n" + "\n".join(text))
    return "\n".join(parts) or "(the broker wrote no log)"


def _read_properties(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    props = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.lstrip().startswith("#"):
            props[key.strip()] = value.strip()
    return props


class LocalKafka:
    """One KRaft broker+controller process bound to 127.0.0.1, owned by a home directory."""

    def __init__(
        self,
        home: Path,
        port: int = 9092,
        controller_port: int | None = None,
        heap_mb: int = 512,
        libs_dir: Path | None = None,
    ) -> None:
        self.home = Path(home).resolve()
        self.port = port
        self.controller_port = controller_port
        self.heap_mb = heap_mb
        self.log_path = self.home / "server.log"  # log4j2 (deploy/kafka/log4j2.properties)
        self._out_path = self.home / "kafka.out"  # the JVM's own stdout/stderr: crashes, bad flags
        self._props_path = self.home / "server.properties"
        self._pid_path = self.home / "kafka.pid"
        self._data_dir = self.home / "data"
        self._partial_archive = self.home / "classes.jsa.partial"
        self._libs_dir = libs_dir.resolve() if libs_dir else None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def libs_dir(self) -> Path:
        return self._libs_dir or repo_root() / LIBS

    def ensure_jars(self) -> Path:
        """Fetch the broker jars through Maven once; later calls only check the marker."""
        libs = self.libs_dir
        if (libs / ".fetched").is_file():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError(f"Maven (mvn) is needed to fetch the Kafka jars into {libs}; install it and retry")
        pom = repo_root() / POM
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip().splitlines()[-20:]
            raise BrokerError(f"mvn failed ({done.returncode}) fetching jars from {pom}:\n" + "\n".join(output))
        (libs / ".fetched").touch()
        return libs

    def start(self, timeout_s: float = 60) -> BrokerStatus:
        """Start the broker detached (its own session) and return once it answers metadata."""
        running = self._running_pid()
        if running is not None:
            raise BrokerError(f"a broker is already running on {self.home} (pid {running})")
        self.controller_port = self.controller_port or free_port()  # KRaft accepts a new one on restart
        for port in (self.port, self.controller_port):
            if _port_in_use(port):
                raise BrokerError(f"port {port} on 127.0.0.1 is already in use; pick another for {self.home}")
        self.ensure_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        self._props_path.write_text(self._server_properties())
        if not (self._data_dir / "meta.properties").is_file():
            self._format()
        started = time.monotonic()
        with self._out_path.open("ab") as out:
            self._proc = subprocess.Popen(
                self._java("kafka.Kafka", str(self._props_path), broker=True),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                start_new_session=True,
            )
        self._pid_path.write_text(f"{self._proc.pid}\n")
        try:
            self._wait_ready(started, timeout_s)
        except BaseException:
            self.stop(timeout_s=10)
            raise
        log.info("kafka on %s ready in %.1f s (home %s)", self.bootstrap, time.monotonic() - started, self.home)
        return self.status()

    def stop(self, timeout_s: float = 30) -> bool:
        """Stop the broker cleanly (SIGTERM to its process group), killing it after ``timeout_s``.

        Returns whether a broker was running. Works from another process via the pid file.
        """
        pid = self._proc.pid if self._proc and self._proc.poll() is None else self._running_pid()
        if pid is None:
            self._pid_path.unlink(missing_ok=True)
            return False
        os.killpg(pid, signal.SIGTERM)
        clean = self._wait_exit(pid, timeout_s)
        if not clean:
            log.warning("kafka pid %s ignored SIGTERM for %.0f s; killing it", pid, timeout_s)
            os.killpg(pid, signal.SIGKILL)
            self._wait_exit(pid, 10)
        self._proc = None
        self._pid_path.unlink(missing_ok=True)
        if clean:
            self._keep_class_archive()
        self._partial_archive.unlink(missing_ok=True)
        return True

    def status(self) -> BrokerStatus:
        pid = self._running_pid()
        advertised = _read_properties(self._props_path).get("advertised.listeners")
        bootstrap = advertised.split("//", 1)[1] if pid is not None and advertised else self.bootstrap
        return BrokerStatus(
            running=pid is not None, pid=pid, bootstrap=bootstrap, home=self.home, log_path=self.log_path
        )

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _running_pid(self) -> int | None:
        """The pid in the pid file if that process is still this home's broker."""
        try:
            pid = int(self._pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        if Path("/proc/self").exists():  # Linux: guard against a reused pid
            try:
                args = cmdline.read_bytes().split(b"\0")
            except OSError:
                return None
            return pid if str(self._props_path).encode() in args else None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def _server_properties(self) -> str:
        data = self._data_dir
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(data),
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
            # One node: every internal topic must fit on it.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Defaults of 50 partitions make the first consumer group or transaction wait
            # seconds while 50 logs are created; a local broker needs a handful.
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.num.partitions": "4",
            # The cleaner's default 128 MB dedupe buffer would take a quarter of the heap.
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            "num.network.threads": "2",
            "num.io.threads": "4",
        }
        header = "# Written by forewarn.broker.local on every start; edits are overwritten.\n"
        return header + "".join(f"{k}={v}\n" for k, v in props.items())

    def _format(self) -> None:
        cmd = self._java("kafka.tools.StorageTool", "format", "-t", _random_cluster_id(), "-c", str(self._props_path))
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.home, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            raise BrokerError(f"formatting {self._data_dir} failed ({done.returncode}):\n{output}")

    def _java(self, main: str, *args: str, broker: bool = False) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise BrokerError("java is not on PATH; the local broker needs Java 17 or newer")
        config = repo_root() / LOG4J2_CONFIG
        flags = [*JVM_FLAGS, *self._class_archive_flags(java, dump=broker)]
        if broker:
            flags.append(f"-Xmx{self.heap_mb}m")
        return [
            java,
            *flags,
            f"-Dlog4j2.configurationFile={config}",
            f"-Dkafka.logs.dir={self.home}",
            "-cp",
            f"{self.libs_dir}/*",
            main,
            *args,
        ]

    def _class_archive(self, java: str) -> Path:
        """An AppCDS archive path keyed by the JDK and the jar set, since either change voids it."""
        real = Path(java).resolve()
        key = hashlib.sha256(f"{real}:{real.stat().st_mtime_ns}".encode())
        for jar in sorted(self.libs_dir.glob("*.jar")):  # the JVM checks names, sizes and mtimes
            stat = jar.stat()
            key.update(f"{jar.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return self.libs_dir.parent / f"classes-{key.hexdigest()[:12]}.jsa"

    def _class_archive_flags(self, java: str, dump: bool) -> list[str]:
        archive = self._class_archive(java)
        if archive.is_file():
            return [f"-XX:SharedArchiveFile={archive}"]
        # The JVM writes the archive as it exits; stop() moves it into place after a clean exit.
        return [f"-XX:ArchiveClassesAtExit={self._partial_archive}"] if dump else []

    def _keep_class_archive(self) -> None:
        partial, java = self._partial_archive, shutil.which("java")
        if java is None or not partial.is_file() or not partial.stat().st_size:
            return
        archive = self._class_archive(java)
        try:
            os.replace(partial, archive)
            for stale in archive.parent.glob("classes-*.jsa"):  # 50 MB each, for an older JDK or jar set
                if stale != archive:
                    stale.unlink()
        except OSError as exc:  # only a speed-up: a read-only cache must not fail stop()
            log.warning("could not keep the class archive %s: %s", partial, exc)

    def _wait_ready(self, started: float, timeout_s: float) -> None:
        """Ask for metadata until the broker lists itself; fail fast if the JVM exits."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 200,
            "logger": logging.getLogger(f"{__name__}.probe"),  # else librdkafka prints refusals to stderr
        }
        client = AdminClient(conf)
        deadline = started + timeout_s
        assert self._proc is not None
        while True:
            code = self._proc.poll()
            if code is not None:
                raise BrokerError(
                    f"kafka exited with code {code} while starting on {self.bootstrap}\n"
                    + _tail([self._out_path, self.log_path])
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerError(
                    f"kafka on {self.bootstrap} did not answer metadata within {timeout_s:.0f} s\n"
                    + _tail([self._out_path, self.log_path])
                )
            try:
                if client.list_topics(timeout=min(0.25, remaining)).brokers:
                    return
            except KafkaException:
                continue

    def _wait_exit(self, pid: int, timeout_s: float) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                return False
            return True
        # Not our child (e.g. `forewarn kafka stop` from another shell): its parent reaps it.
        if hasattr(os, "pidfd_open"):  # Linux: sleep until the exit itself
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                return True
            try:
                return bool(select.select([fd], [], [], timeout_s)[0])
            finally:
                os.close(fd)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.1)
        return False

"""The local development and CI broker: a real single-node Apache Kafka (KRaft) started from
Maven Central artifacts with the JDK and Maven already on the machine (DESIGN.md section 9).

The class path is resolved once with ``mvn dependency:build-classpath`` into a cache that
survives runs (``~/.cache/kpgw``; the jars themselves live in Maven's ``~/.m2``). Each broker
gets a state folder (data, logs, pid file, config) keyed by its port.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway import aio_run
from gateway.errors import EnvironmentProblem

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.25.3"
SLF4J_VERSION = "2.0.17"
SCALA = "2.13"

_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kpgw</groupId><artifactId>kpgw-local-broker</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_{SCALA}</artifactId>
      <version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>{SLF4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>{LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{LOG4J_VERSION}</version></dependency>
  </dependencies>
</project>
"""

_LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def kpgw_home() -> Path:
    return Path(os.environ.get("KPGW_HOME", Path.home() / ".kpgw"))


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("KPGW_CACHE_DIR", Path(base) / "kpgw"))


def _require(tool: str, what: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise EnvironmentProblem(
            f"{what} ({tool}) was not found on PATH; install it (e.g. apt-get install "
            f"{'openjdk-17-jre-headless' if tool == 'java' else 'maven'}) and try again."
        )
    return path


def classpath(*, refresh: bool = False) -> str:
    """The broker's class path, resolved from Maven Central once and cached."""
    folder = cache_dir() / f"kafka-{KAFKA_VERSION}"
    cached = folder / "classpath.txt"
    if cached.exists() and not refresh:
        text = cached.read_text().strip()
        if text and all(Path(jar).exists() for jar in text.split(os.pathsep)):
            return text
    _require("java", "a Java runtime (JDK 17 or newer)")
    mvn = _require("mvn", "Apache Maven")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pom.xml").write_text(_POM)
    output = folder / "classpath.tmp"
    command = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(folder / "pom.xml"),
        "dependency:build-classpath",
        f"-Dmdep.outputFile={output}",
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(
            "downloading Kafka from Maven Central took more than 15 minutes; check the network"
        ) from None
    if result.returncode != 0 or not output.exists():
        last = (result.stdout + result.stderr).strip().splitlines()[-3:]
        raise EnvironmentProblem(
            f"could not download Apache Kafka {KAFKA_VERSION} from Maven Central "
            f"(mvn exit {result.returncode}: {' / '.join(last) or 'no output'})"
        )
    output.replace(cached)
    return cached.read_text().strip()


@dataclass(frozen=True, slots=True)
class BrokerPaths:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def config(self) -> Path:
        return self.root / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.root / "log4j2.properties"

    @property
    def pidfile(self) -> Path:
        return self.root / "broker.pid"

    @property
    def console(self) -> Path:
        return self.logs / "console.out"


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    answers: bool
    data_dir: Path


def describe_elsewhere(pid: int, root: Path) -> str:
    """How a broker found by ``LocalBroker.running_elsewhere`` is named to operators."""
    return f"has its data in {root} (pid {pid})"


class LocalBroker:
    """One single-node KRaft broker bound to 127.0.0.1."""

    def __init__(self, port: int = 9092, data_dir: Path | None = None) -> None:
        self.port = port
        self.controller_port = port + 1
        default = kpgw_home() / "kafka" / str(port)
        #: Where a broker started with --data-dir left its data dir for later commands on
        #: the same port that do not repeat it (``kafka status``, ``kafka down``).
        self._pointer = default / "data-dir"
        if data_dir is None:
            with contextlib.suppress(OSError):
                data_dir = Path(self._pointer.read_text("utf-8").strip()) or None
        self.paths = BrokerPaths(data_dir or default)
        self._custom = data_dir is not None and self.paths.root != default

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _properties(self) -> str:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.paths.data),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "12",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "12",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.segment.bytes": str(64 * 1024 * 1024),
            "log.retention.check.interval.ms": "60000",
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    # --- state ----------------------------------------------------------------------------

    def pid(self) -> int | None:
        try:
            pid = int(self.paths.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def running_elsewhere(self) -> tuple[int, Path] | None:
        """The pid and data dir of a broker started on this port with another data dir
        (``kpgw demo --port P`` uses the default one): commands given this one's
        ``--data-dir`` do not see it, yet it holds the port."""
        default = kpgw_home() / "kafka" / str(self.port)
        for other in (LocalBroker(self.port), LocalBroker(self.port, default)):
            if other.paths.root != self.paths.root and (pid := other.pid()) is not None:
                return pid, other.paths.root
        return None

    def status(self) -> BrokerStatus:
        pid = self.pid()
        answers = pid is not None and answers_metadata(self.bootstrap, timeout_s=5)
        return BrokerStatus(pid is not None, pid, self.bootstrap, answers, self.paths.root)

    # --- lifecycle ------------------------------------------------------------------------

    def up(self, *, timeout_s: float = 120) -> BrokerStatus:
        """Start the broker (idempotent: a running one is left as it is)."""
        running = self.pid()
        if running is not None:
            if answers_metadata(self.bootstrap, timeout_s=timeout_s):
                return self.status()
            raise EnvironmentProblem(
                f"a broker (pid {running}) owns {self.paths.root} but does not answer on "
                f"{self.bootstrap}; run 'kpgw kafka down --port {self.port}' first"
            )
        for port in (self.port, self.controller_port):
            if not port_free(port):
                if (elsewhere := self.running_elsewhere()) is not None:
                    raise EnvironmentProblem(
                        f"port {self.port} is held by kpgw's local broker that "
                        f"{describe_elsewhere(*elsewhere)}, not {self.paths.root}: use it (without "
                        f"--data-dir), or stop it first (kpgw kafka down --port {self.port})"
                    )
                raise EnvironmentProblem(
                    f"port {port} on 127.0.0.1 is already in use by another program; "
                    f"choose another with --port"
                )
        java = _require("java", "a Java runtime (JDK 17 or newer)")
        jars = classpath()
        self._prepare(java, jars)
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        command = [
            java,
            "-Xms256m",
            "-Xmx1g",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.paths.logs}",
            f"-Dlog4j2.configurationFile={self.paths.log4j}",
            "-cp",
            jars,
            "kafka.Kafka",
            str(self.paths.config),
        ]
        with self.paths.console.open("ab") as console:
            process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command,
                stdout=console,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the CLI; stopped by 'kpgw kafka down'
            )
        self.paths.pidfile.write_text(str(process.pid))
        if self._custom:
            self._pointer.parent.mkdir(parents=True, exist_ok=True)
            self._pointer.write_text(str(self.paths.root.resolve()), "utf-8")
        _SPAWNED[process.pid] = process  # reaped by down(); keeps Popen from warning when collected
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                _SPAWNED.pop(process.pid, None)
                self.paths.pidfile.unlink(missing_ok=True)
                raise EnvironmentProblem(
                    f"the Kafka broker exited at start (code {process.returncode}): "
                    f"{_tail(self.paths.console)}; see {self.paths.logs}"
                )
            if answers_metadata(self.bootstrap, timeout_s=2):
                return self.status()
            time.sleep(0.5)
        self.down()
        raise EnvironmentProblem(
            f"the Kafka broker did not answer on {self.bootstrap} within {timeout_s:.0f} s; "
            f"see {self.paths.logs}"
        )

    def _prepare(self, java: str, jars: str) -> None:
        self.paths.root.mkdir(parents=True, exist_ok=True)
        self.paths.config.write_text(self._properties())
        self.paths.log4j.write_text(_LOG4J2)
        if (self.paths.data / "meta.properties").exists():
            return
        cluster_id = "-"
        while cluster_id[0] in "-_":  # a leading '-' would read as an option to StorageTool
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [
                java,
                f"-Dkafka.logs.dir={self.paths.logs}",
                f"-Dlog4j2.configurationFile={self.paths.log4j}",
                "-cp",
                jars,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.paths.config),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise EnvironmentProblem(f"formatting Kafka storage failed: {message[0]}")

    def down(self, *, timeout_s: float = 30) -> bool:
        """Stop the broker cleanly (SIGTERM, controlled shutdown); SIGKILL after the timeout.
        Returns False when no broker was running."""
        pid = self.pid()
        if pid is None:
            self.paths.pidfile.unlink(missing_ok=True)
            return False
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        _reap(pid)
        self.paths.pidfile.unlink(missing_ok=True)
        self._pointer.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: the port's default broker lives there
            self._pointer.parent.rmdir()
        return True

    def kill(self) -> None:
        """SIGKILL, as a crash would (fault tests)."""
        pid = self.pid()
        if pid is not None:
            os.killpg(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
            _reap(pid)
        self.paths.pidfile.unlink(missing_ok=True)


#: Brokers this process started, so it can reap them (no zombies, no ResourceWarning).
_SPAWNED: dict[int, subprocess.Popen[bytes]] = {}


def _reap(pid: int) -> None:
    process = _SPAWNED.pop(pid, None)
    if process is not None:
        process.wait(timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process still "exists"; reap it if it is ours.
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        waited = 0
    if waited == pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


#: Host names of this machine's loopback, where the local broker listens.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})


def local_port(bootstrap: str) -> int | None:
    """The port of ``bootstrap`` when it names a broker on this machine's loopback (every
    server 127.0.0.1 or localhost, on one port), where a local broker would listen; None
    for any other address, whose broker no local command may start or stop."""
    ports = set()
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        if host.lower() not in LOOPBACK_HOSTS or not port.isdigit():
            return None
        ports.add(int(port))
    return ports.pop() if len(ports) == 1 else None


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def answers_metadata(bootstrap: str, *, timeout_s: float = 5) -> bool:
    """True when a Kafka broker at ``bootstrap`` (host:port[,host:port...]) answers a
    metadata request."""
    if not any(_accepts(server, min(timeout_s, 2)) for server in bootstrap.split(",")):
        return False
    # Bounded exit: a client task that swallows its cancellation (a hung broker) would
    # hold ``asyncio.run``'s for as long as it runs, and ``kpgw kafka up`` or the demo with it.
    return aio_run.run(_metadata(bootstrap, timeout_s))


def _accepts(server: str, timeout_s: float) -> bool:
    """A TCP connection to ``host:port`` (``[v6]:port``) succeeds within ``timeout_s``,
    name lookup included: cheap, before a client."""
    host, _, port = server.strip().rpartition(":")
    deadline = time.monotonic() + timeout_s
    try:
        addresses = _resolved(host.strip("[]"), int(port), timeout_s)
    except ValueError:
        return False
    for family, kind, protocol, _, address in addresses:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            with socket.socket(family, kind, protocol) as connection:
                connection.settimeout(left)
                connection.connect(address)
                return True
        except OSError:
            continue
    return False


def _resolved(host: str, port: int, timeout_s: float) -> list[Any]:
    """``getaddrinfo`` for ``host:port`` within ``timeout_s`` ([] when it fails or takes
    longer): a socket's timeout does not cover the name lookup, and a resolver that never
    answers held ``kpgw kafka status`` and the demo's broker probe for as long. The lookup
    runs in a daemon thread, left behind when late (it cannot be stopped)."""
    found: list[Any] = []

    def look_up() -> None:
        with contextlib.suppress(OSError, UnicodeError):
            found.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))

    lookup = threading.Thread(target=look_up, name=f"resolve {host}", daemon=True)
    lookup.start()
    lookup.join(timeout_s)
    return list(found) if not lookup.is_alive() else []


async def _metadata(bootstrap: str, timeout_s: float) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    from gateway.kafka.clients import broker_answer, close_for_good

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    try:  # bounded even where aiokafka swallows the cancellation of a timed-out step
        await broker_answer(admin.start(), "a connection", seconds=timeout_s)
        await broker_answer(admin.describe_cluster(), "a metadata request", seconds=timeout_s)
    except Exception:  # noqa: BLE001 - any failure means "not answering yet"
        return False
    finally:  # never raises; a half-started client is released all the same
        await close_for_good(admin, what="metadata probe", seconds=timeout_s)
    return True


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no output"
    return " / ".join(text[-lines:]) or "no output"

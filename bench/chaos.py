"""`make chaos`: faults injected into the full stack under load, one at a time; one table row each.

    .venv/bin/python -m bench.chaos [--phase-seconds 8] [--down-seconds 5] [--faults all]

Everything runs on loopback on instances of its own, never on the shared services of
var/services.env: PostgreSQL 15 (a cluster in var/chaos/postgres, port 5434), Redis (6380),
Neo4j (the project's launcher, home var/chaos/neo4j, Bolt 7697); two Daphne processes
behind nginx (the project's docker/nginx config), two Celery workers (threads) and beat.

Load, all through nginx: interactions through the API (``--rate`` per second), 100
observers on the WebSocket stream over five ecosystems (nginx spreads them over both web
processes; each resumes with ``since=<last seq>`` after any drop), 20 scenarios ticking
every second. Faults, one at a time, each followed by recovery and the checks:

- ``neo4j``: kill -9 of Neo4j, restarted after ``--down-seconds``;
- ``redis``: kill -9 of Redis, restarted;
- ``worker``: kill -9 of a Celery worker provably inside a turn (it waits on the event
  counter's row lock this script holds), restarted;
- ``daphne``: kill -9 of one web process, restarted;
- ``postgres``: ``pg_ctl restart -m fast``.

Columns, per fault (each over the phase: load before the fault, the fault, load after):
``acked lost`` interactions answered 201 but not in the database; ``turns lost/dup``
turn numbers missing from or repeated in each scenario's record (turns are contiguous and
unique); ``events missing/dup/disorder`` what the 100 observers got against the log, up to
the log's last seq at the phase's end; ``graph`` seconds until every Neo4j edge holds the
strength, trust and version PostgreSQL had at the phase's end (or FAIL after 120 s);
``healthy after`` seconds from the fault until every web process's /api/v1/health says ok
with both workers answering; ``slowest`` the longest the API client waited for an answer
(no request may hang on a dead service). Exit status 1 if any zero is broken, or if any
request answered 500.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import ROOT, print_table

CHAOS = ROOT / "var" / "chaos"
LOGS = CHAOS / "log"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_OS_USER = "postgres"
PG_DB = "ecosystem_chaos"
INITDB_OPTIONS = ["-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--auth=trust"]
LAUNCHER_JAR = ROOT / "docker" / "neo4j-launcher" / "target" / "neo4j-launcher.jar"
NGINX_DIR = ROOT / "docker" / "nginx"
ECOSYSTEMS = 5
SCENARIOS_PER_ECOSYSTEM = 4
FREE_CHARACTERS = 4  # per ecosystem, for the API's interactions
OBSERVERS = 100
WORKERS = ("chaos-worker-a", "chaos-worker-b")
GRAPH_DEADLINE_SECONDS = 120.0
# Neo4j first, with the shortest transaction log to replay; its restart under the run's load
# still takes ~100 s (CPU-bound on 2 shared cores), the longest of the faults.
FAULTS = ("neo4j", "redis", "worker", "daphne", "postgres")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase-seconds", type=float, default=8.0, help="load before/after")
    parser.add_argument("--down-seconds", type=float, default=5.0, help="before a restart")
    parser.add_argument("--rate", type=float, default=4.0, help="API interactions per second")
    parser.add_argument("--faults", default="all", help=f"comma-separated of {','.join(FAULTS)}")
    parser.add_argument("--pg-port", type=int, default=5434)
    parser.add_argument("--redis-port", type=int, default=6380)
    parser.add_argument("--neo4j-port", type=int, default=7697)
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"{what}: not after {timeout:g} s (logs in {LOGS})")
        time.sleep(0.2)
    return time.monotonic() - began


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Processes --------------------------------------------------------------------------------


class Processes:
    """Every process this run starts, by name, each in a session of its own; only these are
    ever signalled."""

    def __init__(self) -> None:
        self.running: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, tuple[list[str], dict[str, str]]] = {}

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.commands[name] = (command, env)
        with (LOGS / f"{name}.log").open("ab") as out:
            self.running[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def restart(self, name: str) -> None:
        command, env = self.commands[name]
        self.start(name, command, env)

    def kill9(self, name: str) -> None:
        process = self.running.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)

    def alive(self, name: str) -> bool:
        process = self.running.get(name)
        return process is not None and process.poll() is None

    def stop_all(self) -> None:
        for process in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.running.clear()


def as_pg(command: list[str]) -> list[str]:
    return ["runuser", "-u", PG_OS_USER, "--", *command] if os.getuid() == 0 else command


class Postgres:
    """A cluster of the run's own; pg_ctl (not Processes) owns the server process."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.data = CHAOS / "postgres"
        self.socket_dir = CHAOS / "run"
        self.log = LOGS / "postgres.log"

    def ctl(self, *args: str) -> None:
        subprocess.run(
            as_pg([str(PG_BIN / "pg_ctl"), *args, "-D", str(self.data), "-l", str(self.log)]),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        for path in (self.data, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        if os.getuid() == 0:
            shutil.chown(self.data, PG_OS_USER)
            shutil.chown(self.socket_dir, PG_OS_USER)
            shutil.chown(self.log, PG_OS_USER)
        self.data.chmod(0o700)
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(
                as_pg([str(PG_BIN / "initdb"), "-D", str(self.data), *INITDB_OPTIONS]),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        conf = self.data / "postgresql.auto.conf"
        conf.write_text(
            f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
            f"unix_socket_directories = '{self.socket_dir}'\nmax_connections = 200\n"
        )
        if os.getuid() == 0:
            shutil.chown(conf, PG_OS_USER)
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken: pick another with --pg-port")
        self.ctl("start", "-w", "-t", "60")
        self.psql(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        self.psql(f"CREATE DATABASE {PG_DB}")

    def psql(self, sql: str) -> None:
        subprocess.run(
            as_pg([str(PG_BIN / "psql"), "-X", "-q", "-h", str(self.socket_dir), *self.where, sql]),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    @property
    def where(self) -> list[str]:
        return ["-p", str(self.port), "-U", "postgres", "-d", "postgres", "-c"]

    def restart_fast(self) -> None:
        self.ctl("restart", "-m", "fast", "-w", "-t", "60")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self.ctl("stop", "-m", "fast", "-w", "-t", "60")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{PG_DB}"


def redis_command(port: int) -> list[str]:
    return ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", ""]


def neo4j_command(port: int) -> list[str]:
    return [
        # C1 only: a restart under the run's load spends most of its time compiling.
        "java", "-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1",
        "-XX:+ExitOnOutOfMemoryError",
        "-Dio.netty.tryReflectionSetAccessible=true", "-Dlog4j2.disable.jmx=true",
        "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
        "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
        "-Dlauncher.bolt.host=127.0.0.1", f"-Dlauncher.bolt.port={port}",
        "-Dlauncher.pagecache.mb=64", f"-Dlauncher.pidfile={CHAOS / 'neo4j.pid'}",
        "-jar", str(LAUNCHER_JAR), str(CHAOS / "neo4j"),
    ]  # fmt: skip


def neo4j_answers(port: int) -> bool:
    from neo4j import GraphDatabase

    if not port_open(port):
        return False
    try:  # a session's run, not execute_query: no retries of its own
        with (
            GraphDatabase.driver(
                f"bolt://127.0.0.1:{port}", auth=("neo4j", "neo4j"), connection_timeout=2
            ) as driver,
            driver.session() as session,
        ):
            session.run("RETURN 1").consume()
        return True
    except Exception:  # any failure means "not yet"
        return False


def nginx_start(processes: Processes, port: int, upstreams: list[int]) -> None:
    """The project's nginx.conf and server template, one upstream server per web process."""
    workdir = CHAOS / "nginx"
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "conf" / "conf.d").mkdir(parents=True)
    workdir.chmod(0o755)
    shutil.copy(NGINX_DIR / "nginx.conf", workdir / "conf" / "nginx.conf")
    shutil.copy("/etc/nginx/mime.types", workdir / "conf" / "mime.types")
    template = string.Template((NGINX_DIR / "templates" / "ecosystem.conf.template").read_text())
    (workdir / "conf" / "conf.d" / "ecosystem.conf").write_text(
        template.safe_substitute(
            NGINX_LISTEN=f"127.0.0.1:{port}",
            NGINX_UPSTREAM="; server ".join(f"127.0.0.1:{p}" for p in upstreams),
            NGINX_STATIC_ROOT=str(workdir / "static"),
            NGINX_ACCESS_LOG=str(LOGS / "nginx-access.log"),
        )
    )
    (workdir / "conf" / "conf.d" / "ecosystem-local-paths.conf").write_text(
        "".join(
            f"{name}_temp_path {workdir / name};\n"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        subprocess.run([str(ROOT / "scripts" / "install_nginx.sh")], check=True)
    error_log = LOGS / "nginx-error.log"
    processes.start(
        "nginx",
        [nginx, "-p", str(workdir), "-c", str(workdir / "conf" / "nginx.conf"), "-e",
         str(error_log), "-g", f"daemon off; pid {workdir / 'nginx.pid'}; "
         f"error_log {error_log} warn;"],
        dict(os.environ),
    )  # fmt: skip


# --- Load -------------------------------------------------------------------------------------


@dataclass
class Observer:
    ecosystem_id: str
    last: int = 0
    received: list[int] = field(default_factory=list)
    connects: int = 0
    resets: int = 0


class Load:
    """Interactions posted from one thread; the observers in an event loop of another."""

    def __init__(self, base_url: str, token_for: Callable[[], str], ecosystems: dict) -> None:
        self.base_url = base_url
        self.token_for = token_for
        self.ecosystems = ecosystems  # id -> [character ids for the API]
        ids = list(ecosystems)
        self.observers = [Observer(ids[index % len(ids)]) for index in range(OBSERVERS)]
        self.acked: list[tuple[int, str]] = []  # (phase, interaction id)
        self.statuses: list[tuple[int, str]] = []  # (phase, status or error)
        self.seconds: list[tuple[int, float]] = []  # (phase, seconds the answer took)
        self.phase = 1  # what the load does before the first fault counts in its row
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, rate: float) -> None:
        self.threads = [
            threading.Thread(target=self._post_loop, args=(rate,), daemon=True),
            threading.Thread(target=lambda: asyncio.run(self._observe_all()), daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _post_loop(self, rate: float) -> None:
        rng = random.Random(13)
        kinds = ("greeting", "chat", "collaboration")
        with httpx.Client(base_url=self.base_url, timeout=30.0) as http:
            next_at = time.monotonic()
            while not self.stopping.is_set():
                ecosystem_id = rng.choice(list(self.ecosystems))
                first, second = rng.sample(self.ecosystems[ecosystem_id], 2)
                sent = time.monotonic()
                try:
                    response = http.post(
                        "/api/v1/interactions",
                        json={
                            "initiator_id": first,
                            "target_id": second,
                            "type": rng.choice(kinds),
                            "content": f"chaos {rng.random():.6f}",
                        },
                        headers={"Authorization": f"Bearer {self.token_for()}"},
                    )
                    # An answer counts in the phase it arrives in: one that comes late (a
                    # request held across a fault) is not left out of every row.
                    phase = self.phase
                    self.statuses.append((phase, str(response.status_code)))
                    if response.status_code == 201:
                        self.acked.append((phase, str(response.json()["interaction_id"])))
                except httpx.HTTPError as error:
                    phase = self.phase
                    self.statuses.append((phase, type(error).__name__))
                self.seconds.append((phase, time.monotonic() - sent))
                next_at = max(next_at + 1 / rate, time.monotonic())
                self.stopping.wait(max(0.0, next_at - time.monotonic()))

    async def _observe_all(self) -> None:
        tasks = [asyncio.ensure_future(self._observe(observer)) for observer in self.observers]
        while not self.stopping.is_set():
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _observe(self, observer: Observer) -> None:
        """Raw frames, no client-side filtering: a duplicate or a gap the server sends is
        recorded as sent. After any drop: ``since`` = the last seq received."""
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        ws_base = self.base_url.replace("http://", "ws://")
        while not self.stopping.is_set():
            try:
                async with connect(
                    f"{ws_base}/ws/ecosystem/{observer.ecosystem_id}/?since={observer.last}",
                    subprotocols=[
                        Subprotocol("ecosystem.v1"),
                        Subprotocol(f"bearer.{self.token_for()}"),
                    ],
                    open_timeout=10,
                    max_size=2**23,
                ) as websocket:
                    observer.connects += 1
                    async for raw in websocket:
                        frame = json.loads(raw)
                        seq = frame.get("seq")
                        if isinstance(seq, int):
                            observer.received.append(seq)
                            observer.last = max(observer.last, seq)
                        elif frame.get("type") == "reset":
                            observer.resets += 1
            except Exception:  # every drop is followed by a resume
                pass
            await asyncio.sleep(random.uniform(0.2, 1.0))


# --- Checks -----------------------------------------------------------------------------------


def log_positions() -> dict[str, int]:
    from characters.models import Ecosystem

    return {str(pk): last for pk, last in Ecosystem.objects.values_list("pk", "last_seq")}


def acked_missing(load: Load, phase: int) -> tuple[int, int]:
    from interactions.models import Interaction

    ids = [pk for acked_phase, pk in list(load.acked) if acked_phase == phase]
    found = set(Interaction.objects.filter(pk__in=ids).values_list("pk", flat=True))
    return len(ids), sum(1 for pk in ids if pk not in {str(f) for f in found})


def turns_lost_and_doubled() -> tuple[int, int, int]:
    """Over every scenario: turn numbers missing from 1..turn, numbers recorded twice, and
    the turns played so far."""
    from django.db import connection, transaction

    from interactions.models import Interaction
    from scenarios.models import Scenario

    lost = doubled = played = 0
    # One snapshot: a turn committed between reading a scenario and its interactions would
    # otherwise look like an interaction beyond the scenario's turn.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        scenarios = list(Scenario.objects.values_list("pk", "turn"))
        turns_of: dict[object, list] = {scenario_id: [] for scenario_id, _ in scenarios}
        for scenario_id, number in Interaction.objects.filter(
            scenario_id__in=list(turns_of)
        ).values_list("scenario_id", "turn"):
            turns_of[scenario_id].append(number)
    for scenario_id, turn in scenarios:
        turns = turns_of[scenario_id]
        counts = Counter(number for number in turns if number is not None)
        doubled += sum(count - 1 for count in counts.values())
        lost += sum(1 for number in range(1, turn + 1) if number not in counts)
        lost += sum(1 for number in counts if number > turn)  # recorded beyond the scenario
        played += turn
    return lost, doubled, played


def events_totals(load: Load, until: dict[str, int]) -> dict[str, int]:
    """Every observer's frames since it started, against the log up to ``until``: ``missing``
    seqs below the highest it got that never came (gaps), ``dup`` frames of a seq it already
    had, ``disorder`` new seqs arriving after a higher one, ``behind`` observers that have
    not reached ``until`` yet (still catching up; a loss only if it lasts), ``log_gaps`` seqs
    absent from the log itself."""
    from eventlog.models import Event

    totals = Counter(missing=0, dup=0, disorder=0, behind=0, log_gaps=0)
    for ecosystem_id, last in until.items():
        present = Event.objects.filter(ecosystem_id=ecosystem_id, seq__lte=last).count()
        totals["log_gaps"] += last - present
    for observer in load.observers:
        frames = list(observer.received)
        seen: set[int] = set()
        previous = 0
        for seq in frames:
            if seq in seen:
                totals["dup"] += 1
                continue
            if seq < previous:
                totals["disorder"] += 1
            seen.add(seq)
            previous = seq
        reached = min(max(seen, default=0), until[observer.ecosystem_id])
        totals["missing"] += sum(1 for seq in range(1, reached + 1) if seq not in seen)
        totals["behind"] += reached < until[observer.ecosystem_id]
    return dict(totals)


def wait_for_observers(load: Load, until: dict[str, int], timeout: float) -> None:
    with contextlib.suppress(RuntimeError):
        wait_until(
            lambda: all(o.last >= until[o.ecosystem_id] for o in load.observers),
            timeout,
            "observers caught up",
        )


def graph_rows_pg() -> dict[tuple[str, str], tuple[float, float, int]]:
    from relationships.models import Relationship

    return {
        (str(a), str(b)): (strength, trust, version)
        for a, b, strength, trust, version in Relationship.objects.values_list(
            "from_character_id", "to_character_id", "strength", "trust", "version"
        )
    }


def graph_rows_neo4j(port: int) -> dict[tuple[str, str], tuple[float, float, int]]:
    from neo4j import GraphDatabase

    with GraphDatabase.driver(
        f"bolt://127.0.0.1:{port}", auth=("neo4j", "neo4j"), connection_timeout=5
    ) as driver:
        records, _, _ = driver.execute_query(
            "MATCH (a:Character)-[r:RELATES_TO]->(b:Character) "
            "RETURN a.uid, b.uid, r.strength, r.trust, r.version"
        )
    return {(a, b): (s, t, v) for a, b, s, t, v in (record.values() for record in records)}


def graph_catches_up(port: int) -> float | None:
    """Seconds until Neo4j holds, for every relationship, PostgreSQL's row of now (the same
    strength, trust and version, or a later version: the load goes on meanwhile) and no
    edge PostgreSQL lacks; None after GRAPH_DEADLINE_SECONDS."""
    snapshot = graph_rows_pg()
    began = time.monotonic()
    while time.monotonic() - began < GRAPH_DEADLINE_SECONDS:
        try:
            graph = graph_rows_neo4j(port)
        except Exception:  # Neo4j still starting
            graph = None
        if graph is not None and set(graph) <= set(graph_rows_pg()):
            behind = 0
            for pair, (strength, trust, version) in snapshot.items():
                held = graph.get(pair)
                if (
                    held is None
                    or held[2] is None
                    or held[2] < version
                    or (
                        held[2] == version
                        and not (
                            math.isclose(strength, held[0], abs_tol=1e-9)
                            and math.isclose(trust, held[1], abs_tol=1e-9)
                        )
                    )
                ):
                    behind += 1
            if behind == 0:
                return time.monotonic() - began
        time.sleep(2)
    return None


# --- The run ----------------------------------------------------------------------------------


class Chaos:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.processes = Processes()
        self.postgres = Postgres(args.pg_port)
        self.web_ports = [free_port(), free_port()]
        self.nginx_port = free_port()
        self.env: dict[str, str] = {}
        self.http = httpx.Client()
        self.unhealthy = ""

    # Set-up ----------------------------------------------------------------------------------

    def start_services(self) -> None:
        log("PostgreSQL, Redis, Neo4j of the run's own")
        self.postgres.start()
        if port_open(self.args.redis_port) or port_open(self.args.neo4j_port):
            raise RuntimeError("the chaos Redis or Neo4j port is taken (--redis-port/--neo4j-port)")
        self.processes.start("redis", redis_command(self.args.redis_port), dict(os.environ))
        shutil.rmtree(CHAOS / "neo4j", ignore_errors=True)
        self.processes.start("neo4j", neo4j_command(self.args.neo4j_port), dict(os.environ))
        wait_until(lambda: port_open(self.args.redis_port), 20, "redis")
        wait_until(lambda: neo4j_answers(self.args.neo4j_port), 180, "neo4j")

    def configure(self) -> None:
        secret = "chaos-" + "x" * 50
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"PROMETHEUS_MULTIPROC_DIR", "DJANGO_SETTINGS_MODULE"}
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="ecosystem_project.settings.test",
            DATABASE_URL=self.postgres.url,
            REDIS_URL=f"redis://127.0.0.1:{self.args.redis_port}/0",
            NEO4J_BOLT_URL=f"bolt://neo4j:neo4j@127.0.0.1:{self.args.neo4j_port}",
            CELERY_TASK_DEFAULT_QUEUE="ecosystem",
            CACHE_KEY_PREFIX="chaos",
            DATABASE_POOL="1",
            DJANGO_SECRET_KEY=secret,
            JWT_SIGNING_KEY=secret,
            JWT_ACCESS_MINUTES="60",
            THROTTLE_RATE_INTERACTIONS="1000000/min",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        os.environ.clear()
        # This script's own queries: one plain connection, reopened after the PostgreSQL
        # restart (a pool would hand back the connections the restart cut).
        os.environ.update(self.env, DATABASE_POOL="0")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        call_command("install_graph_constraints", verbosity=0)

    def start_app(self) -> None:
        log("two Daphne processes behind nginx, two Celery workers, beat")
        python, celery = sys.executable, str(Path(sys.executable).with_name("celery"))
        for index, port in enumerate(self.web_ports):
            self.processes.start(
                f"daphne-{index + 1}",
                [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                 "ecosystem_project.asgi:application"],
                self.env,
            )  # fmt: skip
        for name in WORKERS:
            self.processes.start(
                name,
                [celery, "-A", "ecosystem_project", "worker", "--pool=threads",
                 "--concurrency=4", "-Q", "ecosystem", "-n", f"{name}@%h",
                 "--without-gossip", "--without-mingle", "--loglevel=INFO"],
                {**self.env, "PGAPPNAME": name},
            )  # fmt: skip
        self.processes.start(
            "beat",
            [celery, "-A", "ecosystem_project", "beat", f"--schedule={CHAOS / 'beat-schedule'}",
             "--max-interval=1", "--loglevel=INFO"],
            self.env,
        )  # fmt: skip
        nginx_start(self.processes, self.nginx_port, self.web_ports)
        wait_until(self.healthy, 120, "the stack healthy")

    def create_world(self) -> dict[str, list[str]]:
        from django.contrib.auth import get_user_model
        from django.db import transaction

        from characters.services import character_create, ecosystem_create
        from scenarios.services import scenario_create

        rng = random.Random(7)
        self.user = get_user_model().objects.create_user(username="chaos", password="chaos")

        def sociable(ecosystem, name: str):
            return character_create(
                ecosystem=ecosystem,
                name=name,
                openness=rng.random(),
                conscientiousness=rng.random(),
                extraversion=0.9 + 0.1 * rng.random(),
                agreeableness=0.6 + 0.4 * rng.random(),
                neuroticism=0.3 * rng.random(),
            )

        ecosystems: dict[str, list[str]] = {}
        with transaction.atomic():
            for e in range(ECOSYSTEMS):
                ecosystem = ecosystem_create(owner=self.user, name=f"Chaos {e}")
                free = [sociable(ecosystem, f"E{e} free {c}") for c in range(FREE_CHARACTERS)]
                ecosystems[str(ecosystem.pk)] = [str(c.pk) for c in free]
                for s in range(SCENARIOS_PER_ECOSYSTEM):
                    cast = [sociable(ecosystem, f"E{e} S{s} C{c}") for c in range(3)]
                    scenario_create(
                        ecosystem=ecosystem,
                        participants=cast,
                        title=f"Chaos {e}.{s}",
                        mood="cheerful and cooperative",
                        objectives=["keep the harbor running"],
                        duration_minutes=30,
                        tick_seconds=1.0,
                        seed=e * 10 + s,
                    )
        return ecosystems

    def token(self) -> str:
        if not hasattr(self, "_token"):
            from rest_framework_simplejwt.tokens import RefreshToken

            self._token = str(RefreshToken.for_user(self.user).access_token)
        return self._token

    # Health ----------------------------------------------------------------------------------

    def healthy(self) -> bool:
        """Every web process's health ok, both workers answering, and nginx's answer ok."""
        urls = [f"http://127.0.0.1:{port}" for port in [*self.web_ports, self.nginx_port]]
        for url in urls:
            try:
                response = self.http.get(f"{url}/api/v1/health", timeout=5)
            except httpx.HTTPError as error:
                self.unhealthy = f"{url}: {type(error).__name__}"
                return False
            workers = response.json().get("services", {}).get("celery", {}).get("workers", 0)
            if response.status_code != 200 or workers < len(WORKERS):
                self.unhealthy = f"{url}: {response.status_code} {response.text[:300]}"
                return False
        return True

    # Faults ----------------------------------------------------------------------------------

    def fault(self, name: str) -> None:
        down = self.args.down_seconds
        if name == "redis":
            self.processes.kill9("redis")
            time.sleep(down)
            self.processes.restart("redis")
        elif name == "neo4j":
            self.processes.kill9("neo4j")
            time.sleep(down)
            self.processes.restart("neo4j")
            started = time.monotonic()
            wait_until(lambda: neo4j_answers(self.args.neo4j_port), 240, "neo4j back")
            log(f"  neo4j answers Bolt {time.monotonic() - started:.1f} s after its restart")
        elif name == "worker":
            victim = self.kill_a_worker_mid_turn()
            log(f"  killed {victim} inside a turn")
            time.sleep(down)
            self.processes.restart(victim)
        elif name == "daphne":
            self.processes.kill9("daphne-1")
            time.sleep(down)
            self.processes.restart("daphne-1")
        elif name == "postgres":
            self.postgres.restart_fast()
            from django.db import connections

            connections.close_all()  # this script's own connection was cut too

    def kill_a_worker_mid_turn(self) -> str:
        """Hold one ecosystem's event counter (the row every apply locks to number its
        events): the next turn's worker blocks inside its apply transaction; kill it there."""
        from django.db import connections

        from characters.models import Ecosystem

        ecosystem_id = Ecosystem.objects.values_list("pk", flat=True).first()
        blocker = connections.create_connection("default")
        blocker.set_autocommit(False)
        try:
            with blocker.cursor() as cursor:
                cursor.execute(
                    "SELECT last_seq FROM characters_ecosystem WHERE id = %s FOR UPDATE",
                    [ecosystem_id],
                )
            victim: list[str] = []

            def blocked() -> bool:
                with connections["default"].cursor() as cursor:
                    cursor.execute(
                        "SELECT application_name FROM pg_stat_activity WHERE datname = %s "
                        "AND wait_event_type = 'Lock' AND application_name = ANY(%s)",
                        [PG_DB, list(WORKERS)],
                    )
                    row = cursor.fetchone()
                if row:
                    victim.append(row[0])
                return bool(row)

            wait_until(blocked, 20, "a worker inside a turn")
            self.processes.kill9(victim[0])
        finally:
            blocker.rollback()
            blocker.close()
        return victim[0]

    # Main ------------------------------------------------------------------------------------

    def run(self) -> int:
        faults = FAULTS if self.args.faults == "all" else tuple(self.args.faults.split(","))
        began = time.monotonic()
        self.start_services()
        self.configure()
        ecosystems = self.create_world()
        self.start_app()
        load = Load(f"http://127.0.0.1:{self.nginx_port}", self.token, ecosystems)
        load.start(self.args.rate)
        set_up = time.monotonic() - began
        scenarios = ECOSYSTEMS * SCENARIOS_PER_ECOSYSTEM
        log(
            f"load on: {self.args.rate:g} interactions/s, {OBSERVERS} observers, "
            f"{scenarios} scenarios at 1 s (set-up {set_up:.0f} s)"
        )
        before = Counter(missing=0, dup=0, disorder=0)
        rows, broken = [], False
        wait_until(lambda: all(o.connects for o in load.observers), 60, "observers connected")
        for phase, name in enumerate(faults, start=1):
            load.phase = phase
            time.sleep(self.args.phase_seconds)
            log(f"fault {name}")
            struck = time.monotonic()
            self.fault(name)
            try:
                wait_until(self.healthy, 240, f"healthy after {name}")
            except RuntimeError:
                log(f"  still unhealthy: {self.unhealthy}")
                raise
            healthy_after = time.monotonic() - struck
            log(f"  healthy {healthy_after:.1f} s after the fault")
            time.sleep(self.args.phase_seconds)
            load.phase = phase + 1  # answers from now on count in the next row
            until = log_positions()
            wait_for_observers(load, until, 60)  # a fair chance to reach the checkpoint
            acked, lost = acked_missing(load, phase)
            turns_lost, turns_doubled, played = turns_lost_and_doubled()
            totals = events_totals(load, until)
            delta = {key: totals[key] - before[key] for key in before}
            before = Counter({key: totals[key] for key in before})
            graph = graph_catches_up(self.args.neo4j_port)
            statuses = Counter(status for p, status in load.statuses if p == phase)
            others = ", ".join(f"{k}x{v}" for k, v in sorted(statuses.items()) if k != "201")
            slowest = max((seconds for p, seconds in load.seconds if p == phase), default=0.0)
            row = [
                name, acked, lost, played, turns_lost, turns_doubled, sum(until.values()),
                delta["missing"], delta["dup"], delta["disorder"], totals["behind"],
                "FAIL" if graph is None else f"ok {graph:.0f} s", f"{healthy_after:.1f} s",
                others or "-", f"{slowest:.1f} s", sum(o.connects for o in load.observers),
            ]  # fmt: skip
            rows.append(row)
            log(f"  {row}" + (f"; log gaps {totals['log_gaps']}" if totals["log_gaps"] else ""))
            broken |= bool(lost or turns_lost or turns_doubled or any(delta.values()))
            broken |= graph is None or bool(totals["log_gaps"])
            broken |= bool(statuses["500"])  # the application's own error: never
        # The end: every observer must have every event of the log, once, in order.
        until = log_positions()
        wait_for_observers(load, until, 90)
        final = events_totals(load, until)
        broken |= bool(final["missing"] or final["dup"] or final["disorder"] or final["behind"])
        load.stop()
        tail_acked, tail_lost = acked_missing(load, len(faults) + 1)
        broken |= bool(tail_lost) or any(
            status == "500" for p, status in load.statuses if p == len(faults) + 1
        )
        print_table(
            f"make chaos: one fault at a time under load ({self.args.rate:g} interactions/s, "
            f"{OBSERVERS} observers on 2 web processes, {ECOSYSTEMS * SCENARIOS_PER_ECOSYSTEM} "
            f"scenarios at 1 s ticks; down {self.args.down_seconds:g} s; "
            f"{self.args.phase_seconds:g} s of load before and after each)",
            ["fault", "acked 201", "acked lost", "turns", "turns lost", "turns dup",
             "events", "missing", "dup", "disorder", "behind", "graph = PG", "healthy after",
             "other answers", "slowest", "connects"],
            rows,
        )  # fmt: skip
        print(f"after the last row: {tail_acked} acknowledged, {tail_lost} of them lost")
        print(
            f"after every fault: {OBSERVERS} observers against the log's "
            f"{sum(until.values())} events: missing {final['missing']}, dup {final['dup']}, "
            f"disorder {final['disorder']}, not caught up {final['behind']}"
        )
        print(f"whole run {time.monotonic() - began:.0f} s; logs in {LOGS}")
        print("every zero held" if not broken else "A ZERO IS BROKEN")
        return 1 if broken else 0

    def close(self) -> None:
        self.processes.stop_all()
        self.postgres.stop()


def main() -> int:
    args = parse_args()
    shutil.rmtree(LOGS, ignore_errors=True)
    LOGS.mkdir(parents=True)
    chaos = Chaos(args)
    try:
        return chaos.run()
    finally:
        chaos.close()


if __name__ == "__main__":
    sys.exit(main())

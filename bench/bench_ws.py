"""WebSocket event delivery (issue #4), four contenders side by side, all on loopback:

- ``ours/pubsub``: the real ASGI app and EcosystemConsumer on channels-redis' pub/sub layer,
  fed by real events (``events_append`` in a transaction, broadcast on commit);
- ``ours/core``: the same on channels-redis' default ``RedisChannelLayer``;
- ``peer``: the Channels tutorial's group-chat consumer (join a group, forward
  ``chat.message``) on ``RedisChannelLayer``, as the tutorial configures it; fed by
  ``group_send``;
- ``ceiling``: a bare ``websockets`` server that broadcasts what it reads from Redis pub/sub.

Scenarios: idle observers held by one server process (memory per connection);
100 ecosystems x 10 observers at 10,000 events/minute; 1 ecosystem x 1,000 observers at
5 events/s; and a rate ladder on 1 ecosystem x 200 observers for the sustainable deliveries/s
(the highest rate with zero loss and p99 <= 50 ms). Latency is from just before the writer's
transaction (or publish) to the client's receipt. Observers run in separate client processes.

    python -m bench ws                       # as `make bench` runs it
    python -m bench.bench_ws --quick         # smaller numbers, a minute or two

Targets: 5,000 observers held; p99 <= 50 ms with zero loss at 10,000 events/minute; at least
3x the peer's sustainable deliveries/s and within 3x of the ceiling. The machine's core count
bounds every contender (server, clients, Redis and PostgreSQL share it): read the ratios.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.common import ROOT, free_port, print_table, summary

OURS_PUBSUB = "channels_redis.pubsub.RedisPubSubChannelLayer"
OURS_CORE = "channels_redis.core.RedisChannelLayer"
CLIENT_PROCESSES = 2
CONNECT_CONCURRENCY = 25  # per client process; Daphne listens with a backlog of 50
DRAIN_SECONDS = 1.0
MAX_DRAIN_SECONDS = 60.0
P99_TARGET_MS = 50.0
# Group memberships of RedisChannelLayer outlive a killed server (group_expiry is a day):
# rooms of a run of their own keep earlier runs' dead channels out of the peer's groups.
RUN = f"r{os.getpid()}"
SCENARIOS = ("idle", "many", "one", "ladder")


# --- The peer: the Channels tutorial's chat consumer (served by Daphne from this module) -----


def _build_peer_application() -> Any:
    import django

    django.setup()
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import re_path

    class ChatConsumer(AsyncWebsocketConsumer):
        """docs.channels: "Tutorial Part 3: Rewrite Chat Server as Asynchronous"."""

        async def connect(self) -> None:
            self.room_group_name = f"chat_{self.scope['url_route']['kwargs']['room_name']}"
            await self.channel_layer.group_add(self.room_group_name, self.channel_name)
            await self.accept()

        async def disconnect(self, close_code: int) -> None:
            await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

        async def chat_message(self, event: dict[str, Any]) -> None:
            await self.send(text_data=json.dumps({"message": event["message"]}))

    return ProtocolTypeRouter(
        {
            "websocket": URLRouter(
                [re_path(r"^ws/chat/(?P<room_name>\w+)/$", ChatConsumer.as_asgi())]
            )
        }
    )


def __getattr__(name: str) -> Any:
    # Daphne imports ``bench.bench_ws:peer_application``; build it only then.
    if name == "peer_application":
        return _build_peer_application()
    raise AttributeError(name)


# --- The ceiling: websockets + Redis pub/sub, nothing else ----------------------------------


async def _ceiling_server(port: int, redis_url: str) -> None:
    import redis.asyncio as aioredis
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    rooms: dict[str, set[ServerConnection]] = defaultdict(set)

    async def handler(websocket: ServerConnection) -> None:
        room = websocket.request.path.strip("/") if websocket.request else ""
        rooms[room].add(websocket)
        try:
            await websocket.wait_closed()
        finally:
            rooms[room].discard(websocket)

    client = aioredis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.psubscribe("ceiling.*")
    async with serve(handler, "127.0.0.1", port, ping_interval=None):
        async for message in pubsub.listen():
            if message["type"] == "pmessage":
                room = message["channel"].decode().split(".", 1)[1]
                broadcast(rooms.get(room, ()), message["data"].decode())


# --- Servers --------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Server:
    def __init__(self, command: list[str], env: dict[str, str], name: str) -> None:
        self.port = free_port()
        log_dir = ROOT / "var" / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log = (log_dir / f"bench-ws-{name.replace('/', '-')}.log").open("w")
        self.process = subprocess.Popen(
            [part.replace("{port}", str(self.port)) for part in command],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_listening()

    def _wait_listening(self) -> None:
        import socket

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited, see {self.log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not listen, see {self.log.name}")

    def rss_kib(self) -> int:
        return rss_kib(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# --- Observers (in client processes) --------------------------------------------------------


@dataclass(frozen=True)
class Target:
    url: str
    subprotocols: tuple[str, ...]
    group: int


def _payload_of(text: str | bytes) -> dict[str, Any] | None:
    frame = json.loads(text)
    if "seq" in frame:  # our envelope: a user_message whose content is the send time
        return {"sent_at": float(frame["data"]["content"])}
    if "message" in frame:  # the tutorial's {"message": ...}
        return frame["message"]
    if "sent_at" in frame:  # the ceiling forwards the payload as is
        return frame
    return None  # heartbeats and other control frames


async def _observe(targets: list[Target], control: Connection) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    latencies: list[float] = []
    received = 0
    failures = 0
    sockets = []
    connected_per_group: dict[int, int] = defaultdict(int)
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one(target: Target) -> None:
        nonlocal failures
        async with limit:
            try:
                sockets.append(
                    await connect(
                        target.url,
                        subprotocols=list(target.subprotocols) or None,  # type: ignore[arg-type]
                        ping_interval=None,
                        open_timeout=60,
                        max_size=2**22,
                    )
                )
                connected_per_group[target.group] += 1
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as error:
                failures += 1
                if failures < 4:
                    print(f"connect failed: {error!r}", file=sys.stderr)

    await asyncio.gather(*(open_one(target) for target in targets))

    async def read(websocket: Any) -> None:
        nonlocal received
        try:
            async for text in websocket:
                payload = _payload_of(text)
                if payload is not None:
                    received += 1
                    latencies.append((time.time() - payload["sent_at"]) * 1000)
        except ConnectionClosed:
            pass

    readers = [asyncio.ensure_future(read(websocket)) for websocket in sockets]
    control.send(("ready", dict(connected_per_group), failures))
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, control.recv)
        if command == "reset":
            latencies, received = [], 0
            control.send("ok")
        elif command == "stats":
            control.send((received, latencies))
        elif command == "stop":
            break
    for websocket in sockets:
        await websocket.close()
    for reader in readers:
        reader.cancel()
    control.send("stopped")


def _client_process(targets: list[Target], control: Connection) -> None:
    asyncio.run(_observe(targets, control))


class Observers:
    """``targets`` spread over client processes; connected on creation."""

    def __init__(self, targets: Sequence[Target]) -> None:
        context = multiprocessing.get_context("spawn")
        self.controls: list[Connection] = []
        self.processes = []
        for index in range(CLIENT_PROCESSES):
            parent, child = context.Pipe()
            share = list(targets[index::CLIENT_PROCESSES])
            process = context.Process(target=_client_process, args=(share, child), daemon=True)
            process.start()
            self.controls.append(parent)
            self.processes.append(process)
        self.per_group: dict[int, int] = defaultdict(int)
        self.failed = 0
        for control in self.controls:
            _, per_group, failed = control.recv()
            for group, count in per_group.items():
                self.per_group[group] += count
            self.failed += failed
        self.connected = sum(self.per_group.values())

    def reset(self) -> None:
        for control in self.controls:
            control.send("reset")
        for control in self.controls:
            control.recv()

    def stats(self) -> tuple[int, list[float]]:
        received, latencies = 0, []
        for control in self.controls:
            control.send("stats")
        for control in self.controls:
            count, values = control.recv()
            received += count
            latencies += values
        return received, latencies

    def close(self) -> None:
        for control in self.controls:
            control.send("stop")
        for control in self.controls:
            control.recv()
        for process in self.processes:
            process.join(10)


# --- Contenders -----------------------------------------------------------------------------


Publish = Callable[[int, int], Awaitable[None]]


@dataclass
class Contender:
    name: str
    start: Callable[[], Server]
    targets: Callable[[Server, int, int], list[Target]]  # (server, groups, per group)
    publisher: Callable[[int], Publish]  # groups -> publish(group index, n)
    notes: dict[str, Any] = field(default_factory=dict)
    # The rate ladder's publisher, if not ``publisher`` (ours: group commit, see ``ours``).
    ladder_publisher: Callable[[int], Publish] | None = None


class OursFixture:
    """A user, its ecosystems and a token, in the bench database."""

    def __init__(self, groups: int) -> None:
        from django.contrib.auth import get_user_model
        from rest_framework_simplejwt.tokens import AccessToken

        from characters.models import Ecosystem

        user, _ = get_user_model().objects.get_or_create(username="bench-ws")
        Ecosystem.objects.filter(owner=user).delete()
        self.ecosystem_ids = [
            str(Ecosystem.objects.create(owner=user, name=f"bench-ws {index}").pk)
            for index in range(groups)
        ]
        token = AccessToken.for_user(user)
        token.set_exp(lifetime=timedelta(hours=6))
        self.token = str(token)


def ours(name: str, backend: str, fixture: OursFixture) -> Contender:
    from asgiref.sync import sync_to_async
    from channels.layers import channel_layers
    from django.conf import settings
    from django.db import connection, transaction

    from eventlog import types as event_types
    from eventlog.services import events_append

    bench_label_id = "00000000-0000-0000-0000-000000000000"  # no such scenario: a label

    # Production's access re-check period, not the test settings' 2 s.
    env = {
        **os.environ,
        "CHANNEL_LAYER_BACKEND": backend,
        "LOG_LEVEL": "WARNING",
        "WS_REVALIDATE_SECONDS": "15",
    }
    command = [sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", "{port}"]

    def start() -> Server:
        return Server([*command, "ecosystem_project.asgi:application"], env, name)

    def targets(server: Server, groups: int, per_group: int) -> list[Target]:
        return [
            Target(
                f"ws://127.0.0.1:{server.port}/ws/ecosystem/{fixture.ecosystem_ids[g]}/",
                ("ecosystem.v1", f"bearer.{fixture.token}"),
                g,
            )
            for g in range(groups)
            for _ in range(per_group)
        ]

    def write(group: int, due: list[tuple[float, int]]) -> None:
        try:
            with transaction.atomic():
                events_append(
                    ecosystem_id=fixture.ecosystem_ids[group],  # type: ignore[arg-type]
                    events=[
                        event_types.user_message(
                            scenario_id=bench_label_id,
                            title="bench",
                            turn=n,
                            message_id=bench_label_id,
                            author="bench",
                            content=repr(sent_at),
                            target_character_id=None,
                            target_name=None,
                        )
                        for sent_at, n in due
                    ],
                )
        finally:
            # Back to the pool: executor threads die with each step's event loop, and a
            # connection a dead thread holds would never be returned.
            connection.close()

    def use_layer() -> None:
        settings.CHANNEL_LAYERS = {
            "default": {"BACKEND": backend, "CONFIG": {"hosts": [os.environ["REDIS_URL"]]}}
        }
        channel_layers._reset_backends("CHANNEL_LAYERS")

    def publisher(groups: int) -> Publish:
        """One transaction per event (as one interaction is one transaction), from worker
        threads; the broadcast runs after each commit."""
        use_layer()
        write_async = sync_to_async(write, thread_sensitive=False)

        async def publish(group: int, n: int) -> None:
            await write_async(group, [(time.time(), n)])

        return publish

    def ladder_publisher(groups: int) -> Publish:
        """Group commit for the rate ladder: one writer, which writes every event that came
        due while it was busy in its next transaction (one broadcast message each).

        A transaction per event serialises on the ecosystem's row lock and tops out at a few
        hundred per second on this machine, so the ladder would measure PostgreSQL, not the
        fan-out (the peer and the ceiling publish straight to Redis). Latency still counts
        from when each event came due, so time spent waiting for the writer counts."""
        use_layer()
        write_async = sync_to_async(write, thread_sensitive=False)
        queued: list[tuple[float, int]] = []
        writer: asyncio.Future[None] | None = None

        async def drain() -> None:
            while queued:
                batch = queued[:]
                queued.clear()
                await write_async(0, batch)

        async def publish(group: int, n: int) -> None:
            nonlocal writer
            queued.append((time.time(), n))
            if writer is None or writer.done():
                writer = asyncio.ensure_future(drain())
            await asyncio.shield(writer)

        return publish

    return Contender(name, start, targets, publisher, ladder_publisher=ladder_publisher)


def peer() -> Contender:
    env = {**os.environ, "CHANNEL_LAYER_BACKEND": OURS_CORE, "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", "{port}"]

    def start() -> Server:
        return Server([*command, "bench.bench_ws:peer_application"], env, "peer")

    def targets(server: Server, groups: int, per_group: int) -> list[Target]:
        return [
            Target(f"ws://127.0.0.1:{server.port}/ws/chat/{RUN}room{g}/", (), g)
            for g in range(groups)
            for _ in range(per_group)
        ]

    def publisher(groups: int) -> Publish:
        from channels_redis.core import RedisChannelLayer

        layer = RedisChannelLayer(hosts=[os.environ["REDIS_URL"]])

        async def publish(group: int, n: int) -> None:
            message = {"sent_at": time.time(), "n": n}
            await layer.group_send(
                f"chat_{RUN}room{group}", {"type": "chat.message", "message": message}
            )

        return publish

    return Contender("peer (tutorial)", start, targets, publisher)


def ceiling() -> Contender:
    command = [sys.executable, "-m", "bench.bench_ws", "--ceiling-server", "{port}"]

    def start() -> Server:
        return Server(command, dict(os.environ), "ceiling")

    def targets(server: Server, groups: int, per_group: int) -> list[Target]:
        return [
            Target(f"ws://127.0.0.1:{server.port}/room{g}", (), g)
            for g in range(groups)
            for _ in range(per_group)
        ]

    def publisher(groups: int) -> Publish:
        import redis.asyncio as aioredis

        client = aioredis.from_url(os.environ["REDIS_URL"])

        async def publish(group: int, n: int) -> None:
            await client.publish(
                f"ceiling.room{group}", json.dumps({"sent_at": time.time(), "n": n})
            )

        return publish

    return Contender("ceiling (websockets)", start, targets, publisher)


# --- Scenarios ------------------------------------------------------------------------------


@dataclass
class Delivery:
    published: int
    expected: int
    received: int
    latencies: list[float]
    seconds: float  # from the first publish to the last delivery
    publisher_rate: float

    @property
    def loss(self) -> int:
        return max(0, self.expected - self.received)

    @property
    def p99(self) -> float:
        return summary(self.latencies)["p99"]


async def publish_at_rate(publish: Publish, groups: int, rate: float, seconds: float) -> list[int]:
    """Publish ``rate`` events/s for ``seconds``, round robin over groups; counts per group."""
    loop = asyncio.get_running_loop()
    per_group = [0] * groups
    pending: set[asyncio.Future[None]] = set()
    started = loop.time()
    n = 0
    while (now := loop.time()) < started + seconds:
        due = started + n / rate
        if due > now:
            await asyncio.sleep(due - now)
        group = n % groups
        task = asyncio.ensure_future(publish(group, n))
        pending.add(task)
        task.add_done_callback(pending.discard)
        per_group[group] += 1
        n += 1
    await asyncio.gather(*pending)
    return per_group


def measure(
    observers: Observers, publish: Publish, groups: int, rate: float, seconds: float
) -> Delivery:
    """Publish at ``rate`` for ``seconds`` to connected ``observers``; count what arrived."""

    async def run() -> tuple[list[int], float]:
        publish_started = time.monotonic()
        counts = await publish_at_rate(publish, groups, rate, seconds)
        return counts, time.monotonic() - publish_started

    observers.reset()
    started = time.monotonic()
    counts, publish_seconds = asyncio.run(run())
    # Drain: wait until nothing more arrives for DRAIN_SECONDS (a backlog shows as latency;
    # "lost" is what never arrives).
    received, latencies = observers.stats()
    deadline = time.monotonic() + MAX_DRAIN_SECONDS
    while time.monotonic() < deadline:
        time.sleep(DRAIN_SECONDS)
        before = received
        received, latencies = observers.stats()
        if received == before:
            break
    elapsed = time.monotonic() - started - DRAIN_SECONDS
    return Delivery(
        published=sum(counts),
        expected=sum(count * observers.per_group[group] for group, count in enumerate(counts)),
        received=received,
        latencies=latencies,
        seconds=elapsed,
        publisher_rate=sum(counts) / publish_seconds,
    )


def deliver(
    contender: Contender, server: Server, groups: int, per_group: int, rate: float, seconds: float
) -> Delivery:
    observers = Observers(contender.targets(server, groups, per_group))
    try:
        if observers.failed:
            print(f"  {contender.name}: {observers.failed} observers could not connect")
        # Untimed warm-up, as in ``sustainable``: the first events of each group pay for
        # connections (database pool, Redis clients, executor threads) that later ones reuse.
        measure(observers, contender.publisher(groups), groups, rate, 3.0)
        return measure(observers, contender.publisher(groups), groups, rate, seconds)
    finally:
        observers.close()


def idle(contender: Contender, count: int) -> tuple[int, float]:
    server = contender.start()
    try:
        time.sleep(1.0)
        before = server.rss_kib()
        observers = Observers(contender.targets(server, 100, count // 100))
        try:
            time.sleep(3.0)
            after = server.rss_kib()
            held = observers.connected
        finally:
            observers.close()
        return held, (after - before) / max(held, 1)
    finally:
        server.stop()


def sustainable(contender: Contender, observers_count: int, ladder: Sequence[float]) -> float:
    """The highest rate of the ladder delivered with zero loss and p99 within target."""
    best = 0.0
    server = contender.start()
    observers = Observers(contender.targets(server, 1, observers_count))
    publisher = contender.ladder_publisher or contender.publisher
    try:
        # Untimed warm-up: the first events pay for connections (database pool, Redis clients,
        # executor threads) that every later one reuses; with 6 events at the first rung, one
        # of those would be the p99.
        measure(observers, publisher(1), 1, 5.0, 2.0)
        for rate in ladder:
            result = measure(observers, publisher(1), 1, rate, 6.0)
            clean = result.loss == 0 and result.p99 <= P99_TARGET_MS
            kept_up = result.publisher_rate >= 0.9 * rate
            print(
                f"  {contender.name}: {rate:g}/s -> loss {result.loss}, p99 {result.p99:.1f} ms"
                f"{'' if kept_up else ' (publisher fell behind)'}",
                flush=True,
            )
            if not (clean and kept_up):
                break
            best = rate * observers.connected
    finally:
        observers.close()
        server.stop()
    return best


def ratio(rate: float, reference: float) -> float:
    """``rate / reference``; inf when only the reference sustained no rung at all."""
    if reference == 0:
        return float("inf") if rate > 0 else float("nan")
    return rate / reference


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ws")
    parser.add_argument("--ceiling-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="smaller numbers")
    parser.add_argument("--only", action="append", help="contenders whose name contains this")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="run only these scenarios (repeatable; default: all)",
    )
    parser.add_argument("--seconds", type=float, help="publishing time per delivery scenario")
    args = parser.parse_args(argv)
    if args.ceiling_server:
        asyncio.run(_ceiling_server(args.ceiling_server, os.environ["REDIS_URL"]))
        return

    from bench.common import setup_django

    setup_django()
    scenarios = set(args.scenario or SCENARIOS)
    idle_count = 1000 if args.quick else 5000
    seconds = args.seconds or (6.0 if args.quick else 20.0)
    ladder = (1, 5, 20, 50, 100, 200) if args.quick else (1, 2, 5, 10, 20, 50, 100, 200, 400, 800)
    fan_observers = 200

    fixture = OursFixture(groups=100)
    contenders = [
        ours("ours/pubsub", OURS_PUBSUB, fixture),
        ours("ours/core", OURS_CORE, fixture),
        peer(),
        ceiling(),
    ]
    if args.only:
        contenders = [c for c in contenders if any(part in c.name for part in args.only)]

    idle_rows = []
    for contender in contenders if "idle" in scenarios else []:
        print(f"idle: {contender.name} ...", flush=True)
        held, kib = idle(contender, idle_count)
        idle_rows.append([contender.name, f"{held}/{idle_count}", kib])

    scenario_rows: dict[str, list[list[object]]] = {"many": [], "one": []}
    deliveries = {
        key: shape
        for key, shape in {"many": (100, 10, 10_000 / 60), "one": (1, 1000, 5.0)}.items()
        if key in scenarios
    }
    for contender in contenders if deliveries else []:
        print(f"delivery: {contender.name} ...", flush=True)
        server = contender.start()
        try:
            for key, (groups, per_group, rate) in deliveries.items():
                result = deliver(contender, server, groups, per_group, rate, seconds)
                stats = summary(result.latencies)
                scenario_rows[key].append(
                    [
                        contender.name,
                        result.published,
                        result.received,
                        result.loss,
                        stats["p50"],
                        stats["p95"],
                        stats["p99"],
                        result.received / result.seconds,
                    ]
                )
        finally:
            server.stop()

    sustained = {}
    if "ladder" in scenarios:
        print(f"sustainable fan-out: 1 ecosystem x {fan_observers} observers, ladder {ladder}")
        sustained = {
            contender.name: sustainable(contender, fan_observers, ladder)
            for contender in contenders
        }

    if idle_rows:
        print_table(
            f"Idle observers held by one server process (target {idle_count:,} held)",
            ["contender", "held", "KiB/connection"],
            idle_rows,
        )
    headers = ["contender", "events", "deliveries", "lost", "p50 ms", "p95 ms", "p99 ms", "deliv/s"]
    if scenario_rows["many"]:
        print_table(
            f"100 ecosystems x 10 observers, 10,000 events/min, {seconds:g} s "
            "(target: p99 <= 50 ms, 0 lost)",
            headers,
            scenario_rows["many"],
        )
    if scenario_rows["one"]:
        print_table(
            f"1 ecosystem x 1,000 observers, 5 events/s, {seconds:g} s "
            "(target: p99 <= 50 ms, 0 lost)",
            headers,
            scenario_rows["one"],
        )
    if sustained:
        peer_rate = sustained.get("peer (tutorial)", float("nan"))
        ceiling_rate = sustained.get("ceiling (websockets)", float("nan"))
        print_table(
            "Sustainable deliveries/s (zero loss, p99 <= 50 ms; target >= 3x peer, >= ceiling/3)",
            ["contender", "deliveries/s", "x peer", "x ceiling"],
            [
                [name, rate, ratio(rate, peer_rate), ratio(rate, ceiling_rate)]
                for name, rate in sustained.items()
            ],
        )


if __name__ == "__main__":
    main(sys.argv[1:])

"""Load test (locust): the seed's two tasks, plus WebSocket observers.

* ``ApiUser`` views the dashboard (``GET /api/v1/ecosystem/{id}/dashboard``) and triggers
  interactions between random characters (``POST /api/v1/interactions`` with
  ``{initiator_id, target_id, type, content}``).
* ``EventObserver`` holds a WebSocket on ``/ws/ecosystem/{id}/`` and records each live
  event's delivery latency (the event's ``timestamp``, written at commit time, to the moment
  it arrives) as a custom ``WS  event delivery`` request.

``make load`` (scripts/load.sh) runs it headless for a bounded time and prints the table;
by hand::

    locust -f tests/load/locustfile.py --host http://127.0.0.1:8000 --headless -u 20 -t 60s

Environment: ``LOAD_USERNAME`` / ``LOAD_PASSWORD`` (the demo account by default),
``LOAD_ECOSYSTEM`` (an id; default the account's "Harbor Town", else its first ecosystem),
``LOAD_OBSERVERS`` (WebSocket observers among the users, 5), ``LOAD_SUMMARY_JSON`` (write
the summary there too).
"""

import json
import os
import random
import threading
import time
from datetime import datetime
from typing import Any

import requests
from load_report import render
from locust import HttpUser, User, between, constant, events, task
from locust.stats import StatsEntry
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

USERNAME = os.environ.get("LOAD_USERNAME", "demo")
PASSWORD = os.environ.get("LOAD_PASSWORD", "demo-ecosystem")
ECOSYSTEM = os.environ.get("LOAD_ECOSYSTEM", "")
OBSERVERS = int(os.environ.get("LOAD_OBSERVERS", "5"))
TOKEN_MAX_AGE_SECONDS = 240  # access tokens live JWT_ACCESS_MINUTES (5) by default
WS_REQUEST_TYPE = "WS"
DELIVERY_NAME = "event delivery"
INTERACTION_TYPES = ("greeting", "chat", "conflict", "collaboration")
OPENERS = (
    "Good morning! How are you today?",
    "Did you hear what happened at the harbor last night?",
    "I think we should work on the festival together.",
    "You never listen to a word I say.",
    "Thank you for your help yesterday, it meant a lot.",
    "The weather is turning; the boats will stay in.",
)


class SharedSession:
    """One token, ecosystem and cast per locust process: logging every simulated user in
    would measure the login limits, not the system."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.host = ""
        self.token = ""
        self.token_at = 0.0
        self.ecosystem_id = ""
        self.character_ids: list[str] = []

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def ensure(self, host: str, *, force: bool = False) -> None:
        with self.lock:
            fresh = time.monotonic() - self.token_at < TOKEN_MAX_AGE_SECONDS
            if self.token and fresh and not force and host == self.host:
                return
            self.host = host.rstrip("/")
            response = requests.post(
                f"{self.host}/api/v1/auth/token",
                json={"username": USERNAME, "password": PASSWORD},
                timeout=30,
            )
            response.raise_for_status()
            self.token = response.json()["access"]
            self.token_at = time.monotonic()
            if not self.ecosystem_id:
                self.ecosystem_id = ECOSYSTEM or self._pick_ecosystem()
                self.character_ids = self._cast()

    def _pick_ecosystem(self) -> str:
        response = requests.get(
            f"{self.host}/api/v1/ecosystems", headers=self.headers(), timeout=30
        )
        response.raise_for_status()
        rows = response.json()["results"]
        if not rows:
            raise RuntimeError(f"{USERNAME} has no ecosystem: run `manage.py seed_demo`")
        harbor = [row for row in rows if row["name"] == "Harbor Town"]
        return (harbor or rows)[0]["id"]

    def _cast(self) -> list[str]:
        response = requests.get(
            f"{self.host}/api/v1/characters",
            params={"ecosystem": self.ecosystem_id, "limit": 500},
            headers=self.headers(),
            timeout=30,
        )
        response.raise_for_status()
        ids = [row["id"] for row in response.json()["results"] if row["status"] != "archived"]
        if len(ids) < 2:
            raise RuntimeError("the load test needs an ecosystem with two or more characters")
        return ids


SESSION = SharedSession()


class ApiUser(HttpUser):
    """The seed's two tasks."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        SESSION.ensure(self.host)

    def _headers(self) -> dict[str, str]:
        SESSION.ensure(self.host)
        return SESSION.headers()

    def _after(self, response: Any) -> None:
        if response.status_code == 401:  # the access token expired under us
            SESSION.ensure(self.host, force=True)

    @task(3)
    def view_dashboard(self) -> None:
        with self.client.get(
            f"/api/v1/ecosystem/{SESSION.ecosystem_id}/dashboard",
            headers=self._headers(),
            name="/api/v1/ecosystem/[id]/dashboard",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            self._after(response)

    @task(2)
    def trigger_interaction(self) -> None:
        initiator, target = random.sample(SESSION.character_ids, 2)
        with self.client.post(
            "/api/v1/interactions",
            json={
                "initiator_id": initiator,
                "target_id": target,
                "type": random.choice(INTERACTION_TYPES),
                "content": random.choice(OPENERS),
            },
            headers=self._headers(),
            name="/api/v1/interactions",
            catch_response=True,
        ) as response:
            # 409: one of them is too tired to talk, a domain answer, not a failure.
            if response.status_code in (201, 409):
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            self._after(response)


class EventObserver(User):
    """Watches the ecosystem's live stream and records each event's delivery latency."""

    fixed_count = OBSERVERS
    wait_time = constant(0)

    def on_start(self) -> None:
        self.websocket: Any = None
        self.connected_at = 0.0

    def on_stop(self) -> None:
        if self.websocket is not None:
            self.websocket.close()
            self.websocket = None

    def _connect(self) -> None:
        SESSION.ensure(self.host)
        url = self.host.rstrip("/").replace("http", "ws", 1)
        self.websocket = connect(
            f"{url}/ws/ecosystem/{SESSION.ecosystem_id}/",
            subprotocols=["ecosystem.v1", f"bearer.{SESSION.token}"],  # type: ignore[list-item]
            open_timeout=30,
            max_size=2**22,
        )
        self.connected_at = time.time()

    def _record(self, *, latency_ms: float, size: int, error: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type=WS_REQUEST_TYPE,
            name=DELIVERY_NAME,
            response_time=latency_ms,
            response_length=size,
            exception=error,
            context={},
        )

    @task
    def observe(self) -> None:
        try:
            if self.websocket is None:
                self._connect()
            raw = self.websocket.recv(timeout=1.0)
        except TimeoutError:
            return
        except (ConnectionClosed, InvalidHandshake, OSError) as error:
            # Token expiry (4401) or a restart: reconnect; record it, it is worth seeing.
            self.websocket = None
            self._record(latency_ms=0.0, size=0, error=error)
            time.sleep(0.5)
            return
        received = time.time()
        frame = json.loads(raw)
        if "seq" not in frame or "timestamp" not in frame:
            return  # heartbeat, reset or error frame
        sent = datetime.fromisoformat(frame["timestamp"]).timestamp()
        if sent < self.connected_at:
            return  # history replayed on connect, not a live delivery
        self._record(latency_ms=max(0.0, (received - sent) * 1000), size=len(raw))


# --- The summary table ----------------------------------------------------------------------

PERCENTILES = (0.5, 0.9, 0.95, 0.99)


def _row(entry: StatsEntry, label: str) -> dict[str, Any]:
    return {
        "name": label,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "per_second": round(entry.total_rps, 2),
        **{
            f"p{int(p * 100)}_ms": round(entry.get_response_time_percentile(p) or 0, 1)
            for p in PERCENTILES
        },
        "max_ms": round(entry.max_response_time or 0, 1),
    }


def summarize(stats: Any) -> dict[str, Any]:
    http_entries = [e for e in stats.entries.values() if e.method != WS_REQUEST_TYPE]
    combined = StatsEntry(stats, "all HTTP", "", use_response_times_cache=False)
    for entry in http_entries:
        combined.extend(entry)
    delivery = stats.entries.get((DELIVERY_NAME, WS_REQUEST_TYPE))
    return {
        "http": [
            _row(e, f"{e.method} {e.name}") for e in sorted(http_entries, key=lambda e: e.name)
        ],
        "http_total": _row(combined, "all HTTP"),
        "delivery": _row(delivery, "WS event delivery") if delivery else None,
    }


@events.quitting.add_listener
def print_summary(environment: Any, **_: Any) -> None:
    if environment.stats is None or environment.runner is None:
        return
    summary = summarize(environment.stats)
    print("\n" + render(summary) + "\n", flush=True)
    target = os.environ.get("LOAD_SUMMARY_JSON")
    if target:
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2)

"""The production shape on loopback: Debian's nginx, configured from docker/nginx/, in front
of a real Daphne running the production settings against the test database.

Proves that static files come from nginx, that an API call (token, then GET) and a WebSocket
session (bearer subprotocol, a live event after an interaction) pass through the proxy, and
that Django honours the forwarded scheme and host (SECURE_PROXY_SSL_HEADER,
USE_X_FORWARDED_HOST): redirects to HTTPS name the public host, and absolute URLs in API
responses use it.
"""

import json
import os
import shutil
import signal
import socket
import stat
import string
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from websockets.sync.client import connect

from tests.factories import CharacterFactory, EcosystemFactory, UserFactory
from tests.subprocesses import free_port, subprocess_database_url

REPO_ROOT = Path(__file__).resolve().parents[2]
NGINX_DIR = REPO_ROOT / "docker" / "nginx"
PASSWORD = "proxy-pass-word-123"
PUBLIC_HOST = "public.example:8443"
METRICS_TOKEN = f"metrics-{uuid.uuid4().hex}"
SOCIABLE = dict(
    openness=0.6, conscientiousness=0.6, extraversion=0.9, agreeableness=0.7, neuroticism=0.2
)
HTTPS = {"X-Forwarded-Proto": "https"}  # as a TLS load balancer in front of nginx says


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        subprocess.run([str(REPO_ROOT / "scripts" / "install_nginx.sh")], check=False)
        found = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
    if found is None:
        pytest.fail("Debian's nginx is not installed: run scripts/install_nginx.sh")
    return found


@dataclass
class Proxy:
    url: str
    daphne_url: str
    static_dir: Path


@pytest.fixture(scope="module")
def proxy(django_db_setup) -> Iterator[Proxy]:
    assert connection.vendor == "postgresql", "the proxy test needs PostgreSQL: make test"
    nginx = nginx_binary()
    workdir = Path(tempfile.mkdtemp(prefix="ecosystem-nginx-"))
    # nginx's workers run as an unprivileged user when the test runs as root: let them in.
    workdir.chmod(0o755)
    daphne_port, nginx_port = free_port(), free_port()

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PROMETHEUS_MULTIPROC_DIR", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="ecosystem_project.settings.production",
        DATABASE_URL=subprocess_database_url(),
        DATABASE_CONN_MAX_AGE="0",  # no idle connection left to the test database
        DJANGO_SECRET_KEY=f"proxy-test-secret-{uuid.uuid4().hex}{uuid.uuid4().hex}",
        JWT_SIGNING_KEY=f"proxy-test-jwt-{uuid.uuid4().hex}{uuid.uuid4().hex}",
        DJANGO_ALLOWED_HOSTS=f"127.0.0.1,localhost,{PUBLIC_HOST.split(':')[0]}",
        METRICS_TOKEN=METRICS_TOKEN,
        NUM_PROXIES="1",
        CACHE_KEY_PREFIX=f"test-proxy-{uuid.uuid4().hex}",
        LOG_LEVEL="WARNING",
    )
    daphne_log = workdir / "daphne.log"
    daphne = subprocess.Popen(
        [
            str(REPO_ROOT / ".venv" / "bin" / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(daphne_port),
            "ecosystem_project.asgi:application",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=daphne_log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    nginx_process = None
    try:
        wait_for_port(daphne_port, daphne, daphne_log)

        conf = workdir / "conf"
        (conf / "conf.d").mkdir(parents=True)
        shutil.copy(NGINX_DIR / "nginx.conf", conf / "nginx.conf")
        shutil.copy("/etc/nginx/mime.types", conf / "mime.types")
        static_dir = workdir / "static"
        static_dir.mkdir()
        (static_dir / "probe.txt").write_text("served by nginx\n")
        for path in (static_dir, static_dir / "probe.txt"):
            path.chmod(path.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
        template = string.Template(
            (NGINX_DIR / "templates" / "ecosystem.conf.template").read_text()
        )
        (conf / "conf.d" / "ecosystem.conf").write_text(
            template.safe_substitute(
                NGINX_LISTEN=f"127.0.0.1:{nginx_port}",
                NGINX_UPSTREAM=f"127.0.0.1:{daphne_port}",
                NGINX_STATIC_ROOT=str(static_dir),
                NGINX_ACCESS_LOG=str(workdir / "access.log"),
            )
        )
        # Local-only: temp paths under the work directory instead of /var/lib/nginx.
        (conf / "conf.d" / "ecosystem-local-paths.conf").write_text(
            "".join(
                f"{directive} {workdir / name};\n"
                for directive, name in (
                    ("client_body_temp_path", "client_body"),
                    ("proxy_temp_path", "proxy"),
                    ("fastcgi_temp_path", "fastcgi"),
                    ("uwsgi_temp_path", "uwsgi"),
                    ("scgi_temp_path", "scgi"),
                )
            )
        )
        nginx_log = workdir / "nginx-error.log"
        command = [
            nginx,
            "-p",
            str(workdir),
            "-c",
            str(conf / "nginx.conf"),
            "-e",
            str(nginx_log),
            "-g",
            f"daemon off; pid {workdir / 'nginx.pid'}; error_log {nginx_log} warn;",
        ]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        nginx_process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        wait_for_port(nginx_port, nginx_process, nginx_log)
        yield Proxy(
            url=f"http://127.0.0.1:{nginx_port}",
            daphne_url=f"http://127.0.0.1:{daphne_port}",
            static_dir=static_dir,
        )
    finally:
        if nginx_process is not None:
            stop(nginx_process, signal.SIGQUIT)
        stop(daphne)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def account(transactional_db):
    """A user whose password Daphne (production hashers) can check, with two characters."""
    user = UserFactory(username=f"proxy-{uuid.uuid4().hex[:8]}")
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "proxytestsalt", iterations=1000)
    user.save(update_fields=["password"])
    ecosystem = EcosystemFactory(owner=user)
    first, second = (CharacterFactory(ecosystem=ecosystem, **SOCIABLE) for _ in range(2))
    return user, ecosystem, first, second


def obtain_token(proxy: Proxy, username: str) -> str:
    response = httpx.post(
        f"{proxy.url}/api/v1/auth/token",
        json={"username": username, "password": PASSWORD},
        headers=HTTPS,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


def test_static_files_are_served_by_nginx_itself(proxy):
    response = httpx.get(f"{proxy.url}/static/probe.txt", timeout=10)
    assert response.status_code == 200
    assert response.text == "served by nginx\n"
    assert "Server-Timing" not in response.headers  # Django never saw it
    assert "max-age" in response.headers["Cache-Control"]


def test_an_api_call_passes_through_the_proxy(proxy, account):
    user, ecosystem, _, _ = account
    token = obtain_token(proxy, user.username)
    response = httpx.get(
        f"{proxy.url}/api/v1/ecosystems",
        headers={**HTTPS, "Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert [row["id"] for row in response.json()["results"]] == [str(ecosystem.pk)]
    assert "Server-Timing" in response.headers  # Django answered, through nginx


def test_plain_http_is_redirected_to_https_on_the_forwarded_host(proxy):
    response = httpx.get(f"{proxy.url}/api/v1/health", headers={"Host": PUBLIC_HOST}, timeout=30)
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://{PUBLIC_HOST}/api/v1/health"


def test_absolute_urls_use_the_forwarded_scheme_and_host(proxy, account):
    user, _, _, _ = account
    EcosystemFactory(owner=user)
    token = obtain_token(proxy, user.username)
    response = httpx.get(
        f"{proxy.url}/api/v1/ecosystems?limit=1",
        headers={**HTTPS, "Host": PUBLIC_HOST, "Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["next"].startswith(f"https://{PUBLIC_HOST}/api/v1/ecosystems?")


def test_a_websocket_session_passes_through_the_proxy(proxy, account):
    user, ecosystem, first, second = account
    token = obtain_token(proxy, user.username)
    ws_url = proxy.url.replace("http://", "ws://") + f"/ws/ecosystem/{ecosystem.pk}/"
    with connect(
        ws_url, subprotocols=["ecosystem.v1", f"bearer.{token}"], open_timeout=15
    ) as websocket:
        assert websocket.subprotocol == "ecosystem.v1"
        response = httpx.post(
            f"{proxy.url}/api/v1/interactions",
            json={
                "initiator_id": str(first.pk),
                "target_id": str(second.pk),
                "type": "greeting",
                "content": "Good morning, neighbour!",
            },
            headers={**HTTPS, "Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        deadline = time.monotonic() + 15
        event = None
        while time.monotonic() < deadline:
            message = json.loads(websocket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("type") == "character_interaction":
                event = message
                break
        assert event is not None, "no character_interaction event arrived through the proxy"
        assert event["ecosystem_id"] == str(ecosystem.pk)
        assert event["data"]["participants"] == [str(first.pk), str(second.pk)]
        assert event["data"]["content"] == "Good morning, neighbour!"


def test_metrics_through_the_proxy_need_the_token_and_count_open_websockets(proxy, account):
    user, ecosystem, _, _ = account
    assert httpx.get(f"{proxy.url}/metrics", headers=HTTPS, timeout=30).status_code == 401
    token = obtain_token(proxy, user.username)
    ws_url = proxy.url.replace("http://", "ws://") + f"/ws/ecosystem/{ecosystem.pk}/"
    with connect(ws_url, subprotocols=["ecosystem.v1", f"bearer.{token}"], open_timeout=15):
        time.sleep(0.3)
        response = httpx.get(
            f"{proxy.url}/metrics",
            headers={**HTTPS, "Authorization": f"Bearer {METRICS_TOKEN}"},
            timeout=30,
        )
    assert response.status_code == 200
    open_connections = [
        float(line.split()[-1])
        for line in response.text.splitlines()
        if line.startswith("ecosystem_websocket_connections")
    ]
    assert open_connections and sum(open_connections) >= 1, response.text[:2000]

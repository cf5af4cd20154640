"""The production settings refuse to start without the settings a deployment must choose,
naming each missing one on a line of its own."""

import os
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIRED = (
    "DJANGO_SECRET_KEY",
    "JWT_SIGNING_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
)


def start_production(**settings: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in REQUIRED}
    env.update(DJANGO_SETTINGS_MODULE="ecosystem_project.settings.production", **settings)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_missing_required_setting_is_named_on_its_own_line():
    result = start_production()
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "Missing required setting" in line]
    assert len(lines) == len(REQUIRED), result.stderr[-2000:]
    for name in REQUIRED:
        assert any(f"Missing required setting: {name} " in line for line in lines), name


def test_only_the_missing_ones_are_named():
    result = start_production(
        DJANGO_SECRET_KEY="x" * 60,
        JWT_SIGNING_KEY="y" * 60,
        DJANGO_ALLOWED_HOSTS="ecosystem.example",
    )
    assert result.returncode != 0
    named = re.findall(r"Missing required setting: (\w+)", result.stderr)
    assert named == ["DATABASE_URL", "REDIS_URL"]


def test_with_every_required_setting_production_starts():
    result = start_production(
        DJANGO_SECRET_KEY="x" * 60,
        JWT_SIGNING_KEY="y" * 60,
        DJANGO_ALLOWED_HOSTS="ecosystem.example",
        DATABASE_URL="postgres://ecosystem:ecosystem@127.0.0.1:5433/ecosystem",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_check_deploy_passes_at_warning_level_with_production_settings():
    env = {key: value for key, value in os.environ.items() if key not in REQUIRED}
    env.update(
        DJANGO_SETTINGS_MODULE="ecosystem_project.settings.production",
        DJANGO_SECRET_KEY="k3y-Fz8!qWm2#pLr7@vNx5$tYb9^cHd4&jGs6*eUa1(oKi0)wQ-zR=yT+uV" * 2,
        JWT_SIGNING_KEY="jwt-9aZ!2bY@3cX#4dW$5eV%6fU^7gT&8hS*9iR(0jQ)" * 2,
        DJANGO_ALLOWED_HOSTS="ecosystem.example",
        DATABASE_URL="postgres://ecosystem:ecosystem@127.0.0.1:5433/ecosystem",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "no issues" in result.stdout

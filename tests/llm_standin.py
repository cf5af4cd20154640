"""Fixtures for tests that talk to a simulated language model (``bench.llm_standin``).

Import the ones a module needs (``from tests.llm_standin import llm_standin, ...``):

- ``llm_standin`` (module): the stand-in server on a free loopback port, with
  ``LLM_STANDIN_LATENCY_SECONDS`` of latency (a module-level constant of the test module,
  default 1.0 s); stopped after the module.
- ``llm_backend`` (function): this process's dialogue backend pointed at it
  (``DIALOGUE_BACKEND=openai``; ``dialogue_backend()``'s cache cleared before and after).
- ``llm_worker_env`` (module): the same settings in ``os.environ``, so the servers and Celery
  workers a test starts afterwards (they copy the environment) use the stand-in too; restored
  after the module. Ask for it *before* ``celery_cluster``.
- ``scripted_llm`` (module): a ``ScriptedStandIn``, the same server answering the texts a
  test scripts (``model.script(...)``) before its own lines, and keeping each request's body.
"""

import json
import os
from collections import deque
from collections.abc import Iterator

import pytest

from bench.llm_standin import LLMStandIn

DEFAULT_LATENCY_SECONDS = 1.0
# Far above the stand-in's latency: a request that times out falls back to the template
# backend, which would hide a stand-in that does not answer.
TIMEOUT_SECONDS = 20.0


def dialogue_settings(model: LLMStandIn) -> dict[str, str]:
    return {
        "DIALOGUE_BACKEND": "openai",
        "DIALOGUE_OPENAI_BASE_URL": model.base_url,
        "DIALOGUE_OPENAI_MODEL": model.model,
        "DIALOGUE_OPENAI_API_KEY": "",
        "DIALOGUE_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    }


def _clear_backend() -> None:
    from interactions.services import dialogue_backend

    if dialogue_backend.cache_info().currsize:
        close = getattr(dialogue_backend(), "close", None)
        if close is not None:
            close()
    dialogue_backend.cache_clear()


@pytest.fixture(scope="module")
def llm_standin(request) -> Iterator[LLMStandIn]:
    latency = getattr(request.module, "LLM_STANDIN_LATENCY_SECONDS", DEFAULT_LATENCY_SECONDS)
    with LLMStandIn(latency=latency) as model:
        yield model


@pytest.fixture
def llm_backend(llm_standin, settings) -> Iterator[LLMStandIn]:
    for name, value in dialogue_settings(llm_standin).items():
        setattr(settings, name, float(value) if name == "DIALOGUE_TIMEOUT_SECONDS" else value)
    _clear_backend()
    try:
        yield llm_standin
    finally:
        _clear_backend()  # the next test gets the configured (template) backend again


@pytest.fixture(scope="module")
def llm_worker_env(llm_standin) -> Iterator[LLMStandIn]:
    values = dialogue_settings(llm_standin)
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield llm_standin
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class ScriptedStandIn(LLMStandIn):
    """The stand-in, answering scripted texts first: ``script("Otto: Hi.", ...)`` queues
    the contents of its next answers (a model that speaks for others, say), after which it
    answers with its own lines again. ``bodies`` holds every chat-completions request body,
    so a test can read the prompt that was sent."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.scripted: deque[str] = deque()
        self.bodies: list[dict] = []

    def script(self, *contents: str) -> None:
        self.scripted.clear()
        self.scripted.extend(contents)
        self.bodies.clear()

    async def _handle(self, method: str, path: str, body: bytes) -> tuple[int, object]:
        status, payload = await super()._handle(method, path, body)
        if status == 200 and path == "/v1/chat/completions":
            self.bodies.append(json.loads(body))
            if self.scripted and isinstance(payload, dict):
                payload["choices"][0]["message"]["content"] = self.scripted.popleft()
        return status, payload


@pytest.fixture(scope="module")
def scripted_llm(request) -> Iterator[ScriptedStandIn]:
    latency = getattr(request.module, "LLM_STANDIN_LATENCY_SECONDS", DEFAULT_LATENCY_SECONDS)
    model = ScriptedStandIn(latency=latency)
    model.start()
    try:
        yield model
    finally:
        model.stop()

"""The OpenAI-compatible dialogue backend against recorded server responses (httpx.MockTransport).

Nothing here needs a model server: every response comes from tests/interactions/fixtures/.
"""

import json
import logging
from pathlib import Path

import httpx
import pytest

from characters.emotion import PAD
from characters.personality import BigFive
from interactions.dialogue import get_backend
from interactions.dialogue.base import DialogueContext, Speaker
from interactions.dialogue.openai_compat import (
    MAX_REPLY_CHARS,
    MAX_TOKENS,
    TEMPERATURE,
    OpenAICompatBackend,
    clean_reply,
)
from interactions.dialogue.template import TemplateBackend
from relationships.dynamics import RelationshipState

FIXTURES = Path(__file__).parent / "fixtures"
BASE_URL = "http://127.0.0.1:11434/v1"
LOGGER_NAME = "interactions.dialogue.openai_compat"

MARA = Speaker(
    id="mara",
    name="Mara",
    bio="Runs the bakery by the harbor and knows everyone's secrets.",
    personality=BigFive(0.8, 0.3, 0.9, 0.9, 0.2),
    emotion=PAD(0.6, 0.4, 0.3),
    energy=0.9,
)
TOMAS = Speaker(
    id="tomas",
    name="Tomas",
    bio="The harbor master's clerk.",
    personality=BigFive(0.2, 0.9, 0.15, 0.4, 0.6),
    emotion=PAD(-0.2, -0.3, -0.1),
    energy=0.5,
)
CONTEXT = DialogueContext(
    speaker=MARA,
    listener=TOMAS,
    interaction_type="chat",
    relationship=RelationshipState(strength=0.45, trust=0.7, interaction_count=12),
    utterance="Where did you put the harbor map?",
    setting="the bakery at dawn",
    mood="busy but friendly",
    objectives=("find the missing map", "open the shop on time"),
    recent=(("Tomas", "Morning, Mara."), ("Mara", "Morning! Bread's still warm.")),
    seed=7,
)


def recorded(name: str) -> httpx.Response:
    fixture = json.loads((FIXTURES / name).read_text())
    if "json" in fixture:
        return httpx.Response(
            fixture["status_code"], headers=fixture["headers"], json=fixture["json"]
        )
    return httpx.Response(
        fixture["status_code"], headers=fixture["headers"], content=fixture["text"].encode()
    )


class RecordedServer:
    """A MockTransport handler that serves one fixture and keeps the requests it saw."""

    def __init__(self, fixture: str | None = None, error: Exception | None = None) -> None:
        self.fixture = fixture
        self.error = error
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        assert self.fixture is not None
        return recorded(self.fixture)

    @property
    def body(self) -> dict:
        return json.loads(self.requests[-1].content)


def backend_for(server: RecordedServer, api_key: str | None = None) -> OpenAICompatBackend:
    client = httpx.Client(transport=httpx.MockTransport(server))
    return OpenAICompatBackend(BASE_URL, "llama3.2", api_key=api_key, timeout=2.0, client=client)


def test_a_recorded_ollama_reply_is_parsed_and_trimmed_to_two_sentences():
    server = RecordedServer("ollama_chat_completion.json")
    line = backend_for(server).reply(CONTEXT)
    assert line == (
        "Oh, the harbor map? I left it with Tomas this morning, and he swore he'd guard it "
        "with his life."
    )


def test_the_request_goes_to_chat_completions_with_model_and_sampling_settings():
    server = RecordedServer("ollama_chat_completion.json")
    backend_for(server).reply(CONTEXT)
    request = server.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{BASE_URL}/chat/completions"
    assert server.body["model"] == "llama3.2"
    assert server.body["max_tokens"] == MAX_TOKENS == 120
    assert server.body["temperature"] == TEMPERATURE == 0.8
    assert server.body["stream"] is False


def test_the_system_prompt_carries_persona_state_relationship_and_scenario():
    server = RecordedServer("ollama_chat_completion.json")
    backend_for(server).reply(CONTEXT)
    messages = server.body["messages"]
    assert messages[0]["role"] == "system"
    system = messages[0]["content"]
    for expected in (
        "You are Mara",
        "Runs the bakery by the harbor",
        "curious, imaginative",  # openness 0.8
        "outgoing, talkative",  # extraversion 0.9
        "warm, kind",  # agreeableness 0.9
        "calm and emotionally steady",  # neuroticism 0.2
        "you feel joy",
        "Tomas is: friend",
        "+0.45",
        "trust 0.70",
        "a casual chat",
        "the bakery at dawn",
        "busy but friendly",
        "find the missing map; open the shop on time",
    ):
        assert expected in system, expected


def test_recent_exchanges_become_turns_and_the_utterance_comes_last():
    server = RecordedServer("ollama_chat_completion.json")
    backend_for(server).reply(CONTEXT)
    messages = server.body["messages"]
    assert messages[1:] == [
        {"role": "user", "content": "Tomas: Morning, Mara."},
        {"role": "assistant", "content": "Morning! Bread's still warm."},
        {"role": "user", "content": "Tomas: Where did you put the harbor map?"},
    ]


def test_an_opening_asks_the_model_to_start_the_interaction():
    server = RecordedServer("ollama_chat_completion.json")
    opening_context = DialogueContext(
        speaker=MARA,
        listener=TOMAS,
        interaction_type="greeting",
        relationship=RelationshipState(0.0, 0.3, 0),
        utterance=None,
    )
    backend_for(server).opening(opening_context)
    last = server.body["messages"][-1]
    assert last["role"] == "user"
    assert "Open a greeting with Tomas" in last["content"]
    assert "never spoken before" in server.body["messages"][0]["content"]


def test_the_api_key_is_sent_as_a_bearer_token():
    server = RecordedServer("ollama_chat_completion.json")
    backend_for(server, api_key="sk-test-123").reply(CONTEXT)
    assert server.requests[0].headers["Authorization"] == "Bearer sk-test-123"


def test_no_authorization_header_without_an_api_key():
    server = RecordedServer("ollama_chat_completion.json")
    backend_for(server).reply(CONTEXT)
    assert "Authorization" not in server.requests[0].headers


def test_reasoning_blocks_names_stage_directions_and_quotes_are_removed():
    server = RecordedServer("ollama_chat_completion_reasoning.json")
    line = backend_for(server).reply(CONTEXT)
    assert line == "I tucked it behind the flour sacks, Tomas. Nobody will look there."


def test_a_rambling_reply_is_cut_to_at_most_500_characters():
    server = RecordedServer("long_rambling_reply.json")
    line = backend_for(server).reply(CONTEXT)
    assert len(line) <= MAX_REPLY_CHARS
    assert line.startswith("Well you see the thing about the harbor")
    assert line.endswith("\u2026")


@pytest.mark.parametrize(
    ("fixture", "error_name"),
    [
        ("ollama_error_500.json", "HTTPStatusError"),
        ("ollama_error_404_model_not_found.json", "HTTPStatusError"),
        ("malformed_json.json", "JSONDecodeError"),
        ("empty_content.json", "ValueError"),
        ("no_choices.json", "IndexError"),
    ],
)
def test_a_failed_response_falls_back_to_the_template_backend_with_a_warning(
    fixture, error_name, caplog
):
    server = RecordedServer(fixture)
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        line = backend_for(server).reply(CONTEXT)
    assert line == TemplateBackend().reply(CONTEXT)
    warnings = [r for r in caplog.records if r.name == LOGGER_NAME]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert error_name in warnings[0].getMessage()
    assert "template" in warnings[0].getMessage()


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("timed out"),
        httpx.ConnectTimeout("timed out"),
        httpx.ConnectError("[Errno 111] Connection refused"),
    ],
    ids=["read-timeout", "connect-timeout", "connection-refused"],
)
def test_a_transport_failure_falls_back_to_the_template_backend(error, caplog):
    server = RecordedServer(error=error)
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        line = backend_for(server).reply(CONTEXT)
    assert line == TemplateBackend().reply(CONTEXT)
    assert type(error).__name__ in caplog.text


def test_an_opening_falls_back_to_the_template_opening():
    server = RecordedServer(error=httpx.ReadTimeout("timed out"))
    opening_context = DialogueContext(
        speaker=MARA,
        listener=TOMAS,
        interaction_type="collaboration",
        relationship=RelationshipState(0.45, 0.7, 12),
        utterance=None,
        objectives=("find the missing map",),
    )
    assert backend_for(server).opening(opening_context) == TemplateBackend().opening(
        opening_context
    )


def test_a_custom_fallback_is_used():
    class Fixed:
        name = "fixed"

        def reply(self, ctx: DialogueContext) -> str:
            return "fixed reply"

        def opening(self, ctx: DialogueContext) -> str:
            return "fixed opening"

    client = httpx.Client(transport=httpx.MockTransport(RecordedServer("ollama_error_500.json")))
    backend = OpenAICompatBackend(BASE_URL, "llama3.2", fallback=Fixed(), client=client)
    assert backend.reply(CONTEXT) == "fixed reply"


def test_a_programming_error_is_not_swallowed_by_the_fallback():
    server = RecordedServer(error=RuntimeError("a bug, not a flaky server"))
    with pytest.raises(RuntimeError):
        backend_for(server).reply(CONTEXT)


def test_the_timeout_is_applied_to_the_request():
    server = RecordedServer("ollama_chat_completion.json")
    backend_for(server).reply(CONTEXT)
    timeout = server.requests[0].extensions["timeout"]
    assert timeout["read"] == 2.0 and timeout["connect"] == 2.0


def test_get_backend_builds_the_openai_backend_from_settings_values():
    server = RecordedServer("ollama_chat_completion.json")
    client = httpx.Client(transport=httpx.MockTransport(server))
    backend = get_backend(
        "openai",
        base_url=BASE_URL + "/",
        model="llama3.2",
        api_key="",
        timeout=3,
        client=client,
    )
    assert isinstance(backend, OpenAICompatBackend)
    assert backend.name == "openai"
    assert backend.url == f"{BASE_URL}/chat/completions"
    assert backend.api_key is None
    assert backend.timeout == 3.0
    assert backend.reply(CONTEXT).startswith("Oh, the harbor map?")


def test_get_backend_needs_a_base_url_and_a_model_for_openai():
    with pytest.raises(ValueError, match="base_url and model"):
        get_backend("openai", base_url="", model="llama3.2")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("  Hello there.  ", "Hello there."),
        ("Mara: Fine. Really. Truly.", "Fine. Really."),
        ("\u201cQuoted line.\u201d", "Quoted line."),
        ("*sighs* Not again.", "Not again."),
        ("<think>plan</think>", ""),
    ],
)
def test_clean_reply(content, expected):
    assert clean_reply(content, "Mara") == expected

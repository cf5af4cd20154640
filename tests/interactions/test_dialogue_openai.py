"""The OpenAI-compatible dialogue backend against recorded server responses (httpx.MockTransport).

Most tests need no model server: their responses come from tests/interactions/fixtures/. The
rules against speaking for others and the card's voice run against the stand-in server
(tests/llm_standin.py), scripted to answer what a test needs.
"""

import dataclasses
import json
import logging
from pathlib import Path

import httpx
import pytest

from characters.emotion import PAD
from characters.personality import BigFive
from interactions.dialogue import get_backend
from interactions.dialogue.base import DialogueContext, LoreFact, Speaker, card_text
from interactions.dialogue.openai_compat import (
    MAX_REPLY_CHARS,
    MAX_TOKENS,
    MIN_RETRY_SECONDS,
    TEMPERATURE,
    VOICE_TOKEN_BUDGET,
    OpenAICompatBackend,
    clean_reply,
    estimated_tokens,
    voice_lines,
)
from interactions.dialogue.template import TemplateBackend
from memories.recalled import RecalledMemory
from relationships.dynamics import RelationshipState
from tests.llm_standin import ScriptedStandIn, scripted_llm  # noqa: F401 (a fixture)

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


# --- Speaking only for oneself, against the stand-in scripted to break the rule -------------------

# The stand-in (tests/llm_standin.py) answers at once: these tests are about the text.
LLM_STANDIN_LATENCY_SECONDS = 0.01

OTTO_NEARBY = dataclasses.replace(
    CONTEXT,
    recent=(
        ("Otto", "Has anyone seen my nets?"),
        ("Tomas", "Morning, Mara."),
        ("Mara", "Morning! Bread's still warm."),
    ),
)


@pytest.fixture
def model(request) -> ScriptedStandIn:
    """The stand-in server (module-scoped), scripted afresh by each test."""
    return request.getfixturevalue("scripted_llm")


def standin_backend(model: ScriptedStandIn, timeout: float = 5.0) -> OpenAICompatBackend:
    return OpenAICompatBackend(model.base_url, model.model, timeout=timeout)


def test_the_prompt_forbids_speaking_for_the_listener_and_anyone_else():
    server = RecordedServer("ollama_chat_completion.json")
    backend_for(server).reply(CONTEXT)
    system = server.body["messages"][0]["content"]
    assert "never write what Tomas or anyone else says" in system
    assert "no name in front" in system


@pytest.mark.parametrize(
    ("answer", "line"),
    [
        ("Otto: Where were you?\nMara: At the bakery, where else.", "At the bakery, where else."),
        ("**Otto**: Where were you?\n**Mara**: Baking, Otto.", "Baking, Otto."),
        ("**Otto:** Where were you?\n**Mara:** Baking, Otto.", "Baking, Otto."),
        ('Otto said, "Thanks, Mara."\nMara: Any time.', "Any time."),
        ("Otto says: My nets!\nMara (laughing): Under the pier.", "Under the pier."),
        (
            "It's behind the flour sacks.\nTomas: Oh, thanks!\nMara: Any time.",
            "It's behind the flour sacks.",
        ),
        ("It's behind the flour sacks. Tomas: Oh, thanks!", "It's behind the flour sacks."),
        ("Right here, Tomas.\n\nOtto: And my nets?", "Right here, Tomas."),
        ("Mara: It's in the drawer, Tomas.", "It's in the drawer, Tomas."),
        ("**Mara:** It's in the drawer.", "It's in the drawer."),
        ("**Mara**: It's in the drawer.", "It's in the drawer."),
        ("Mara says: It's in the drawer.", "It's in the drawer."),
        # Not lines given to someone: addressing them, or reporting what they said.
        ("Tomas, it's in the drawer.", "Tomas, it's in the drawer."),
        ("Otto said you would ask about it.", "Otto said you would ask about it."),
    ],
)
def test_a_reply_is_cut_to_the_speakers_own_part(model, answer, line):
    model.script(answer)
    assert standin_backend(model).reply(OTTO_NEARBY) == line
    assert len(model.bodies) == 1


def test_a_reply_that_is_all_someone_elses_is_asked_again_once_with_a_reminder(model):
    model.script("Tomas: Thank you so much!\nOtto: And my nets?", "Behind the flour sacks.")
    line = standin_backend(model).reply(OTTO_NEARBY)
    assert line == "Behind the flour sacks."
    assert len(model.bodies) == 2
    reminder = model.bodies[1]["messages"][-1]
    assert reminder["role"] == "user"
    assert "Answer as Mara only" in reminder["content"]
    assert "Otto, Tomas" in reminder["content"]
    assert model.bodies[1]["messages"][:-1] == model.bodies[0]["messages"]


def test_speaking_for_others_twice_falls_back_to_the_template_line(model, caplog):
    model.script("Tomas: Thank you!", "**Otto**: My nets!")
    backend = standin_backend(model)
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        line = backend.reply(OTTO_NEARBY)
    assert line == backend.fallback.reply(OTTO_NEARBY)
    assert len(model.bodies) == 2
    assert "spoke only for others, twice" in caplog.text


def test_no_second_request_when_the_timeout_leaves_no_time_for_it(model, caplog):
    model.script("Tomas: Thank you!", "Behind the flour sacks.")
    backend = standin_backend(model, timeout=MIN_RETRY_SECONDS * 0.8)
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        line = backend.reply(OTTO_NEARBY)
    assert line == backend.fallback.reply(OTTO_NEARBY)
    assert len(model.bodies) == 1
    assert "no time to ask again" in caplog.text


def test_an_empty_answer_is_not_asked_again(model):
    model.script("*shrugs*", "Behind the flour sacks.")
    backend = standin_backend(model)
    assert backend.reply(OTTO_NEARBY) == backend.fallback.reply(OTTO_NEARBY)
    assert len(model.bodies) == 1


# --- The card's voice: example dialogue and greetings -------------------------------------------

CARD_MARA = dataclasses.replace(
    MARA,
    greetings=(
        "*wipes flour off her hands* Welcome, {{user}}! I'm {{char}}. The rye is still warm, "
        "and the gossip is fresher.",
        "Oh! A new face. Come in, {{user}}, come in.",
    ),
    voice_examples=(
        "<START>\n{{user}}: Morning.\n{{char}}: *beams* Morning, love! Bread's nearly out, "
        "isn't it grand?\n<START>\n{{user}}: Can I have the burnt one?\n"
        "{{char}}: Burnt? In <BOT>'s bakery? Never, <USER>. {{random:truly,really}}"
    ),
)
FIRST_GREETING = DialogueContext(
    speaker=CARD_MARA,
    listener=TOMAS,
    interaction_type="greeting",
    relationship=RelationshipState(0.0, 0.3, 0),
    utterance=None,
    seed=3,
)


def test_card_placeholders_are_resolved_in_any_case():
    assert card_text("{{Char}} greets {{ user }}; <BOT> to <user>.", char="Mara", user="Tomas") == (
        "Mara greets Tomas; Mara to Tomas."
    )


def test_voice_examples_go_into_the_system_prompt_resolved_and_without_narration(model):
    model.script("Morning, Tomas.")
    standin_backend(model).reply(dataclasses.replace(CONTEXT, speaker=CARD_MARA))
    system = model.bodies[0]["messages"][0]["content"]
    assert "How you talk" in system
    assert "Tomas: Morning." in system
    assert "Mara: Morning, love! Bread's nearly out, isn't it grand?" in system
    assert "Mara: Burnt? In Mara's bakery? Never, Tomas." in system
    for raw in ("{{", "<START>", "<BOT>", "beams", "*"):
        assert raw not in system, raw
    # A reply is not a greeting: the card's greetings are not examples here.
    assert "Welcome, Tomas" not in system


def test_voice_examples_stay_within_their_token_budget():
    many = "\n".join(f"{{{{char}}}}: Example line number {n} in my own voice." for n in range(60))
    ctx = dataclasses.replace(CONTEXT, speaker=dataclasses.replace(MARA, voice_examples=many))
    [section] = voice_lines(ctx)
    lines = section.splitlines()[1:]
    assert lines[0] == "Mara: Example line number 0 in my own voice."
    assert sum(estimated_tokens(line) for line in lines) <= VOICE_TOKEN_BUDGET
    assert 5 < len(lines) < 60


def test_a_first_greeting_opens_with_a_card_greeting_without_asking_the_model(model):
    model.script("This should not be used.")
    line = standin_backend(model).opening(FIRST_GREETING)
    greetings = {
        "Welcome, Tomas! I'm Mara.",  # narration dropped, two sentences at most
        "Oh! A new face.",
    }
    assert line in greetings
    assert model.bodies == []
    # The same seed, pair and greetings pick the same one (a replay says the same).
    assert standin_backend(model).opening(FIRST_GREETING) == line


def test_a_later_greeting_gives_the_card_greetings_to_the_model_as_examples(model):
    model.script("Tomas! Back for more rye?")
    later = dataclasses.replace(FIRST_GREETING, relationship=RelationshipState(0.3, 0.5, 4))
    line = standin_backend(model).opening(later)
    assert line == "Tomas! Back for more rye?"
    system = model.bodies[0]["messages"][0]["content"]
    assert "Greetings you have opened with before" in system
    assert "- Welcome, Tomas! I'm Mara." in system
    assert "- Oh! A new face." in system


def test_a_first_chat_is_not_opened_with_a_card_greeting(model):
    model.script("Tomas, have you tried the rye?")
    chat = dataclasses.replace(FIRST_GREETING, interaction_type="chat")
    assert standin_backend(model).opening(chat) == "Tomas, have you tried the rye?"
    assert "Greetings you have opened with" not in model.bodies[0]["messages"][0]["content"]


def test_the_prompt_sent_carries_memories_lore_voice_and_the_rule_together(model):
    model.script("Behind the flour sacks.")
    memory = RecalledMemory(
        id="m1",
        kind="memory",
        text="Tomas lost the harbor map at the festival.",
        heard="I lost it, I'm sorry.",
        counterpart_id="tomas",
        interaction_type="chat",
        sentiment=-0.4,
        importance=0.7,
        score=0.9,
        age_seconds=3600.0,
    )
    lore = LoreFact(id="d1:0", title="The harbor", text="The harbor map shows the old reef.")
    ctx = dataclasses.replace(OTTO_NEARBY, speaker=CARD_MARA, memories=(memory,), lore=(lore,))
    standin_backend(model).reply(ctx)
    system = model.bodies[0]["messages"][0]["content"]
    sections = [
        "You are Mara",
        "you feel joy",
        "Tomas is: friend",
        "What you remember",
        "Tomas lost the harbor map at the festival.",
        "What you know of your world",
        "The harbor: The harbor map shows the old reef.",
        "How you talk",
        "never write what Tomas or anyone else says",
    ]
    positions = [system.index(section) for section in sections]
    assert positions == sorted(positions)

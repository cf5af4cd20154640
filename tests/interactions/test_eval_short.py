"""A short profile of `make eval` (bench/eval_dialogue.py): 150 turns of the same cast and
scenarios, held to the hard rules the default voice meets (issue #15)."""

import pytest

from bench.eval_dialogue import run


@pytest.fixture(scope="module")
def short_eval():
    return run(turns=150, seed=7)


def test_the_short_eval_has_no_hygiene_error(short_eval):
    report = short_eval
    assert report.numbers["hygiene_errors"] == 0, report.examples


def test_no_speaker_repeats_one_of_its_own_last_twenty_sentences(short_eval):
    report = short_eval
    assert report.numbers["own_repeats"] == 0, report.examples.get("own repeat")


def test_nine_questions_in_ten_are_answered_by_their_type(short_eval):
    report = short_eval
    assert report.numbers["questions_answered"] >= 0.9, report.examples


def test_the_short_eval_plays_every_turn(short_eval):
    # Its time is `make eval`'s to print, not a test's to hold (a busy CI machine).
    report = short_eval
    assert report.transcript.turns == 150


def test_lines_draw_on_memories_and_lore_that_fit_the_exchange(short_eval):
    report = short_eval
    numbers = report.numbers
    assert numbers["memory_lines"] >= 0.05, report.examples
    assert numbers["memory_relevant"] >= 0.9, report.examples.get("memory that does not fit")
    assert numbers["lore_lines"] >= 0.02, report.examples
    assert numbers["lore_relevant"] >= 0.9, report.examples.get("lore that does not fit")
    assert numbers["drawn_not_offered"] == 0


def test_what_a_line_drew_on_is_in_its_transcript_data(short_eval):
    report = short_eval
    memories, lore = report.transcript.memories, report.transcript.lore
    recalling = [u for u in report.transcript.utterances if u.drew_on]
    assert recalling
    for u in recalling:
        for item in u.drew_on:
            assert item["kind"] in ("memory", "reflection", "lore")
            if item["kind"] == "lore":
                assert item["id"] in u.offered_lore and item["id"] in lore
            else:
                assert item["id"] in u.offered_memories
                assert item["text"] == memories[item["id"]].heard
                assert '"' in u.text  # what was heard then is quoted in the line


@pytest.fixture(scope="module")
def standin_eval():
    return run(turns=12, seed=7, backend="standin")


def test_the_eval_runs_through_the_openai_backend_against_the_standin_model(standin_eval):
    report = standin_eval
    assert report.transcript.backend == "standin"
    assert report.transcript.turns == 12
    failed = [row for row in report.rows if row.met is False]
    assert not failed, (failed, report.examples)
    numbers = report.numbers
    assert numbers["turns_answered"] == 1.0
    assert numbers["from_model"] == 1.0  # the model's lines (or a card greeting), no fallback
    assert numbers["prompt_persona"] == 1.0 and numbers["prompt_emotion"] == 1.0
    assert numbers["prompt_memories"] == 1.0
    assert numbers["speaks_for_another"] == 0
    # The lines really came from the stand-in server.
    assert any(u.text in report.transcript.model_texts for u in report.transcript.utterances)

"""A short profile of `make eval` (bench/eval_dialogue.py): 150 turns of the same cast and
scenarios, held to the hard rules the default voice meets (issue #15)."""

import time

import pytest

from bench.eval_dialogue import run


@pytest.fixture(scope="module")
def short_eval():
    started = time.perf_counter()
    report = run(turns=150, seed=7)
    return report, time.perf_counter() - started


def test_the_short_eval_has_no_hygiene_error(short_eval):
    report, _seconds = short_eval
    assert report.numbers["hygiene_errors"] == 0, report.examples


def test_no_speaker_repeats_one_of_its_own_last_twenty_sentences(short_eval):
    report, _seconds = short_eval
    assert report.numbers["own_repeats"] == 0, report.examples.get("own repeat")


def test_nine_questions_in_ten_are_answered_by_their_type(short_eval):
    report, _seconds = short_eval
    assert report.numbers["questions_answered"] >= 0.9, report.examples


def test_the_short_eval_runs_in_under_thirty_seconds(short_eval):
    report, seconds = short_eval
    assert report.transcript.turns == 150
    assert seconds < 30

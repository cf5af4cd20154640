"""The phrase files of the template backend: loaded once, and a bad file is refused with
an error that names the file and the line."""

import dataclasses
import shutil
from pathlib import Path

import pytest

from characters.emotion import PAD
from characters.personality import BigFive
from interactions.dialogue.base import DialogueContext, Speaker
from interactions.dialogue.template import TemplateBackend
from interactions.dialogue.template.phrases import (
    SPECS,
    Phrase,
    PhraseFileError,
    default_phrases,
    load_phrases,
    phrases_directory,
)
from relationships.dynamics import RelationshipState

SHIPPED = Path(str(phrases_directory()))


def phrase_files(tmp_path: Path) -> Path:
    """A copy of the shipped phrase files to break."""
    directory = tmp_path / "phrases"
    shutil.copytree(SHIPPED, directory)
    return directory


def edit(directory: Path, name: str, old: str, new: str) -> int:
    """Replace ``old`` (once) in ``name`` by ``new``; the 1-based line where ``new`` starts."""
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {name}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def load_error(directory: Path) -> PhraseFileError:
    with pytest.raises(PhraseFileError) as caught:
        load_phrases(directory)
    return caught.value


def test_the_shipped_files_define_every_pool_and_are_loaded_once():
    phrases = default_phrases()

    assert default_phrases() is phrases
    assert {path.name for path in SHIPPED.glob("*.toml")} == {
        "decoration.toml",
        "openings.toml",
        "remarks.toml",
        "replies.toml",
        "topics.toml",
    }
    for name in SPECS:
        assert getattr(phrases, name), name


def test_a_phrase_states_that_it_is_hedgeable_in_a_field_not_in_its_text():
    react = default_phrases().react["warm"].all

    assert Phrase("That makes a lot of sense to me.", hedgeable=True) in react
    assert Phrase("That's a lovely way to put it, and I agree.") in react
    for path in SHIPPED.glob("*.toml"):
        assert '"~' not in path.read_text(), path.name


def test_a_phrase_needs_a_topic_when_it_uses_the_topic_placeholder():
    pool = default_phrases().react["neutral"]

    assert all(phrase.needs_topic for phrase in pool.all if "{topic}" in phrase.text.lower())
    assert pool.generic and not any(phrase.needs_topic for phrase in pool.generic)


def test_a_toml_syntax_error_names_the_file_and_the_line(tmp_path):
    directory = phrase_files(tmp_path)
    line = edit(
        directory, "remarks.toml", '    "Sorry, I\'m exhausted.",', "    \"Sorry, I'm exhausted.,"
    )

    error = load_error(directory)

    assert error.path == str(directory / "remarks.toml")
    assert error.line == line
    assert str(error).startswith(f"{directory / 'remarks.toml'}:{line}: not valid TOML")


def test_an_unknown_placeholder_names_the_file_the_line_and_the_known_ones(tmp_path):
    directory = phrase_files(tmp_path)
    line = edit(
        directory,
        "replies.toml",
        '"I love that you brought up {topic}, and I agree."',
        '"I love that you brought up {topc}, and I agree."',
    )

    error = load_error(directory)

    assert (error.path, error.line) == (str(directory / "replies.toml"), line)
    assert "react.warm" in error.message
    assert "{topc}" in error.message
    assert "known: {Me}, {Place}, {Thing}, {Topic}, {me}, {name}, {place}, {thing}, {topic}" in (
        error.message
    )


def test_a_placeholder_the_pool_does_not_fill_is_refused(tmp_path):
    directory = phrase_files(tmp_path)
    # The core of a reply knows its topic, but not the scenario's objective.
    line = edit(
        directory, "replies.toml", '"Okay, I\'m in; who handles what?"', '"Okay. {objective}?"'
    )

    error = load_error(directory)

    assert (Path(error.path).name, error.line) == ("replies.toml", line)
    assert "{objective}" in error.message


def test_a_stray_brace_is_refused(tmp_path):
    directory = phrase_files(tmp_path)
    line = edit(
        directory, "remarks.toml", '"I could really use a rest."', '"I could {really use a rest."'
    )

    error = load_error(directory)

    assert (Path(error.path).name, error.line) == ("remarks.toml", line)
    assert "stray brace" in error.message


def test_a_placeholder_in_a_fragment_pool_is_refused(tmp_path):
    directory = phrase_files(tmp_path)
    line = edit(directory, "decoration.toml", '    "Maybe",', '    "Maybe {name},",')

    error = load_error(directory)

    assert (Path(error.path).name, error.line) == ("decoration.toml", line)
    assert "hedge_prefixes" in error.message


def test_an_empty_pool_names_the_file_and_the_line_of_the_pool(tmp_path):
    directory = phrase_files(tmp_path)
    path = directory / "topics.toml"
    text = path.read_text()
    start = text.index("grievances = [")
    end = text.index("]", start) + 1
    path.write_text(text[:start] + "grievances = []" + text[end:])
    line = text[:start].count("\n") + 1

    error = load_error(directory)

    assert (Path(error.path).name, error.line) == ("topics.toml", line)
    assert "grievances is empty" in error.message


def test_an_empty_stance_list_names_the_line_of_the_stance(tmp_path):
    directory = phrase_files(tmp_path)
    path = directory / "decoration.toml"
    text = path.read_text()
    start = text.index("cold = [", text.index("[interjections]"))
    end = text.index("]", start) + 1
    path.write_text(text[:start] + "cold = []" + text[end:])
    line = text[:start].count("\n") + 1

    error = load_error(directory)

    assert (Path(error.path).name, error.line) == ("decoration.toml", line)
    assert "interjections.cold is empty" in error.message


def test_a_stance_pool_without_one_of_the_stances_is_refused(tmp_path):
    directory = phrase_files(tmp_path)
    path = directory / "openings.toml"
    text = path.read_text()
    header = text[: text.index("[open_conflict]")].count("\n") + 1
    start = text.index("hostile = [", text.index("[open_conflict]"))
    end = text.index("]", start) + 1
    path.write_text(text[:start] + text[end:])

    error = load_error(directory)

    assert (Path(error.path).name, error.line) == ("openings.toml", header)
    assert "open_conflict" in error.message and "'hostile'" in error.message


def test_an_unknown_stance_is_refused_at_its_line(tmp_path):
    directory = phrase_files(tmp_path)
    line = edit(directory, "replies.toml", "[ask_back]\nwarm = [", "[ask_back]\nwarmish = [") + 1

    error = load_error(directory)

    assert (Path(error.path).name, error.line) == ("replies.toml", line)
    assert "unknown key 'warmish'" in error.message


def test_an_unknown_pool_is_refused_at_its_line(tmp_path):
    directory = phrase_files(tmp_path)
    line = edit(directory, "topics.toml", "shared_tasks = [", "shared_taks = [")

    error = load_error(directory)

    assert (Path(error.path).name, error.line) == ("topics.toml", line)
    assert "unknown pool 'shared_taks'" in error.message


def test_a_missing_pool_names_the_directory(tmp_path):
    directory = phrase_files(tmp_path)
    (directory / "topics.toml").unlink()

    error = load_error(directory)

    assert error.path == str(directory) and error.line is None
    assert "small_talk_curious" in error.message and "grievances" in error.message


def test_a_pool_defined_in_two_files_is_refused(tmp_path):
    directory = phrase_files(tmp_path)
    (directory / "zz_more.toml").write_text('# more\n\ngrievances = ["the broken fence"]\n')

    error = load_error(directory)

    assert (Path(error.path).name, error.line) == ("zz_more.toml", 3)
    assert "already defined in topics.toml" in error.message


def test_a_pool_used_without_a_topic_needs_a_phrase_without_one(tmp_path):
    directory = phrase_files(tmp_path)
    path = directory / "replies.toml"
    text = path.read_text()
    start = text.index("hostile = [", text.index("[ask_back]"))
    end = text.index("]", start) + 1
    path.write_text(text[:start] + 'hostile = ["Why {topic}?"]' + text[end:])
    line = text[:start].count("\n") + 1

    error = load_error(directory)

    assert (Path(error.path).name, error.line) == ("replies.toml", line)
    assert "ask_back.hostile" in error.message and "without {topic}" in error.message


@pytest.mark.parametrize(
    ("replacement", "complaint"),
    [
        ('{ text = "Sorry, I\'m exhausted.", hedgeable = "yes" }', "hedgeable must be true"),
        ('{ text = "Sorry, I\'m exhausted.", needs_topic = true }', "unknown field(s) needs_topic"),
        ("{ hedgeable = true }", "needs text"),
        ("42", "not int"),
        ('"Sorry, I\'m exhausted. "', "leading or trailing spaces"),
        ('""', "an empty phrase"),
    ],
)
def test_a_malformed_phrase_is_refused_at_its_line(tmp_path, replacement, complaint):
    directory = phrase_files(tmp_path)
    line = edit(directory, "remarks.toml", '"Sorry, I\'m exhausted."', replacement)

    error = load_error(directory)

    assert (Path(error.path).name, error.line) == ("remarks.toml", line)
    assert complaint in error.message


def test_the_backend_speaks_from_the_phrase_files_it_is_given(tmp_path):
    directory = phrase_files(tmp_path)
    path = directory / "topics.toml"
    text = path.read_text()
    start = text.index("grievances = [")
    end = text.index("]", start) + 1
    path.write_text(text[:start] + 'grievances = ["the stolen goat"]' + text[end:])
    backend = TemplateBackend(phrases=load_phrases(directory))
    who = Speaker(
        id="sam",
        name="Sam",
        bio="",
        personality=BigFive(0.5, 0.5, 0.5, 0.5, 0.5),
        emotion=PAD(0.0, 0.0, 0.0),
        energy=0.8,
    )
    listener = dataclasses.replace(who, id="quill", name="Quill")

    lines = [
        backend.opening(
            DialogueContext(
                speaker=who,
                listener=listener,
                interaction_type="conflict",
                relationship=RelationshipState(0.1, 0.3, 2),
                utterance=None,
                seed=seed,
            )
        )
        for seed in range(40)
    ]

    assert any("the stolen goat" in line for line in lines)
    assert not any(
        grievance in line for line in lines for grievance in default_phrases().grievances
    )

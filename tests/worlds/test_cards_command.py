"""manage.py import_cards: many files, one ecosystem, each card (with its book as lore) whole
or not at all."""

import json

import pytest
from django.core.management import CommandError, call_command

from characters.models import Character
from lore.models import Document
from tests.characters import cardkit

pytestmark = pytest.mark.django_db


def test_import_cards_imports_each_good_card_and_names_the_bad_one(ecosystem, tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps(cardkit.v2(name="Alpha")))
    (tmp_path / "b.png").write_bytes(
        cardkit.png_with({"ccv3": cardkit.b64(cardkit.v3(name="Beta"))})
    )
    (tmp_path / "c.charx").write_bytes(cardkit.charx(cardkit.v3(name="Gamma")))
    (tmp_path / "bad.png").write_bytes(cardkit.tiny_png())
    paths = [str(tmp_path / n) for n in ("a.json", "b.png", "bad.png", "c.charx")]
    with pytest.raises(CommandError, match="1 card"):
        call_command("import_cards", *paths, ecosystem=str(ecosystem.pk))
    out, err = capsys.readouterr()
    names = sorted(Character.objects.filter(ecosystem=ecosystem).values_list("name", flat=True))
    assert names == ["Alpha", "Beta", "Gamma"]
    # Each card's book came in as its character's keyed lore.
    for character in Character.objects.filter(ecosystem=ecosystem):
        assert sorted(
            Document.objects.filter(characters=character).values_list("title", flat=True)
        ) == ["amulet", "glade"]
    assert out.count("2 lore entries") == 3
    assert "FAIL" in out and "bad.png" in out and "png_without_card" in out
    assert "3 imported, 1 refused" in out
    assert "import [" in err and "4/4" in err  # the progress bar


def test_import_cards_dry_run_saves_nothing(ecosystem, tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps(cardkit.v2(name="Alpha")))
    call_command(
        "import_cards", str(tmp_path / "a.json"), ecosystem=str(ecosystem.pk), dry_run=True
    )
    assert "Alpha (OCEAN" in capsys.readouterr().out
    assert not Character.objects.filter(ecosystem=ecosystem).exists()


def test_import_cards_needs_an_existing_ecosystem(tmp_path):
    with pytest.raises(CommandError, match="No ecosystem"):
        call_command("import_cards", str(tmp_path / "x.json"), ecosystem="nope")

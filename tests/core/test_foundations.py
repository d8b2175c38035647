"""The shared pieces every package builds on: refusals, transition tables, labels, notifications."""
from __future__ import annotations

import enum

import pytest
from flask_babel import lazy_gettext as _l

from facility.core.errors import Conflict, NotFound, PermissionDenied
from facility.core.labels import choices, label, labelled, tone
from facility.core.policy import Answer, conflict, first, forbidden, hidden, require
from facility.core.states import Transitions


class Colour(str, enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


COLOURS = Transitions(Colour, {Colour.RED: {Colour.GREEN}, Colour.GREEN: {Colour.BLUE, Colour.RED}})


def test_refusals_become_their_errors():
    with pytest.raises(PermissionDenied, match="role"):
        require(forbidden("role"))
    with pytest.raises(Conflict, match="state"):
        require(conflict("state"))
    with pytest.raises(NotFound):
        require(hidden("nothing"))
    require(None)  # allowed: nothing raised


def test_first_refusal_wins_and_later_checks_are_not_run():
    ran = []
    assert first(lambda: ran.append(1), lambda: forbidden("no"), lambda: ran.append(3)).reason == "no"
    assert ran == [1]


def test_answer_explains_state_refusals_and_hides_role_refusals():
    assert Answer(None) and Answer(None).reason == ""
    assert not Answer(conflict("later")) and Answer(conflict("later")).explain
    assert not Answer(forbidden("never")).explain


def test_transition_table_sources_and_final_states():
    assert COLOURS.sources(Colour.RED) == {Colour.GREEN}
    assert COLOURS.sources(Colour.GREEN) == {Colour.RED}
    assert COLOURS.final == {Colour.BLUE}
    assert set(COLOURS.pairs()) == {(Colour.RED, Colour.GREEN), (Colour.GREEN, Colour.BLUE), (Colour.GREEN, Colour.RED)}


def test_move_checks_the_table_and_returns_the_replaced_status(app):
    class Row:
        status = Colour.RED

    row = Row()
    assert COLOURS.move(row, Colour.GREEN) == Colour.RED and row.status == Colour.GREEN
    with pytest.raises(Conflict):
        COLOURS.move(row, Colour.GREEN)
    row.status = Colour.BLUE
    with pytest.raises(Conflict):
        COLOURS.move(row, Colour.RED)
    assert row.status == Colour.BLUE


def test_a_table_refuses_unknown_targets():
    with pytest.raises(ValueError):
        Transitions(Colour, {Colour.RED: {"purple"}})  # type: ignore[dict-item]


def test_labels_cover_every_member_and_give_tones(app):
    @labelled({"red": _l("Red"), "green": _l("Green"), "blue": _l("Blue")}, tones={"green": "good"})
    class Paint(str, enum.Enum):
        RED = "red"
        GREEN = "green"
        BLUE = "blue"

    assert str(label(Paint.GREEN)) == "Green" and tone(Paint.GREEN) == "good" and tone(Paint.RED) == "neutral"
    assert [value for value, _text in choices(Paint)] == ["red", "green", "blue"]
    assert label("plain") == "plain"
    with pytest.raises(ValueError, match="missing"):
        labelled({"red": "Red"})(Colour)


def test_clean_text_refuses_what_is_too_long_instead_of_cutting_it(app):
    from facility.core.errors import ValidationFailed
    from facility.core.inputs import clean_text

    assert clean_text("  a   b \n c ", "note", limit=10) == "a b c"
    assert clean_text("a  b\n\n  c", "note", limit=10, multiline=True) == "a b\n\nc"
    with pytest.raises(ValidationFailed) as refused:
        clean_text("x" * 11, "note", limit=10)
    assert "note" in refused.value.errors
    with pytest.raises(ValidationFailed):
        clean_text("   ", "note", limit=10, required=True)

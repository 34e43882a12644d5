"""The FSM data of an intake: what an intake under way when a new release starts holds reads the same."""

from __future__ import annotations

from typing import Any

from services.intake_state import IntakeState

EARLIER_ANSWERS: dict[str, Any] = {"who": "self", "documents": ["passport"]}
EARLIER: dict[str, Any] = {
    "locale": "uk",
    "answers": EARLIER_ANSWERS,
    "tracked": [11, 12, 14],
    "chat": 1001,
    "editing": False,
    "prompt": 14,
}


def test_an_intake_under_way_reads_and_is_stored_the_same() -> None:
    intake = IntakeState.from_dict(EARLIER)
    assert intake == IntakeState(
        locale="uk", answers=EARLIER_ANSWERS, tracked=[11, 12, 14], prompt=14, editing=False, chat=1001
    )
    assert intake.to_dict() == EARLIER


def test_a_person_who_only_chose_a_language() -> None:
    intake = IntakeState.from_dict({"locale": "en"})
    assert intake.locale == "en" and intake.tracked == [] and intake.prompt is None and intake.chat is None
    assert "prompt" not in intake.to_dict()  # no live question yet


def test_other_data_is_no_intake() -> None:
    """A volunteer's canned-reply entry lives in the same storage: the sweep finds no chat to clean in it."""
    intake = IntakeState.from_dict({"canned_key": "safety", "canned_left": ["uk", "en"]})
    assert intake.chat is None and intake.tracked == []

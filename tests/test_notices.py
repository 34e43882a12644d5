"""Outbox notices: a row queued by an earlier release (a plain JSON payload) reads back as its class and is
stored again in the same layout, so an upgrade needs no migration of waiting messages."""

from __future__ import annotations

from typing import Any

import pytest

from services import notices
from services.notices import NOTICES, Delete, Notice, parse

# Payloads exactly as the releases before typed notices wrote them, one per kind.
EARLIER_ROWS: list[dict[str, Any]] = [
    {"kind": "confirmation", "code": "R-7KQ3XM", "track": "confirmation"},
    {"kind": "claimed", "code": "R-7KQ3XM", "pseudonym": "Birch-12", "track": "notice"},
    {"kind": "closed", "code": "R-7KQ3XM", "track": "notice"},
    {"kind": "reconnect_key", "code": "R-7KQ3XM", "secret": "ABCDEFGHJKMNPQRS", "track": "reconnect_key"},
    {"kind": "reconnected", "code": "R-7KQ3XM"},
    {
        "kind": "card",
        "code": "R-7KQ3XM",
        "language": "ru",
        "status": "mobilised",
        "location": "ru_home",
        "urgency": "week",
        "created_at": "2026-01-05T10:00:00+00:00",
        "track": "card",
    },
    {
        "kind": "card",
        "code": "R-7KQ3XM",
        "language": "ru",
        "location": None,
        "urgency": "48h",
        "created_at": "2026-12-05T10:00:00+00:00",
        "situation": ["serving", "wounded"],
        "track": "card",
    },
    {"kind": "card_update", "code": "R-7KQ3XM", "state": "claimed", "message_id": 41},
    {
        "kind": "full_card",
        "reason": "transferred",
        "code": "R-7KQ3XM",
        "language": "uk",
        "urgency": "48h",
        "created_at": "2026-01-05T10:00:00+00:00",
        "answers": {"who": "self", "description": None},
        "track": "full",
    },
    {"kind": "undelivered", "code": "R-7KQ3XM", "reason": "blocked"},
    {"kind": "lease_expired", "code": "R-7KQ3XM", "hours": 72},
    {"kind": "erased_inactive", "code": "R-7KQ3XM", "days": 90},
    {"kind": "escalation", "code": "R-7KQ3XM", "created_at": "2026-01-05T10:00:00+00:00"},  # untracked before 19
    {"kind": "flagged", "code": "R-7KQ3XM", "by": "Birch-12"},
    {"kind": "inspected", "code": "R-7KQ3XM", "by": "Heron-40", "reason": "safety"},
    {"kind": "blocked", "code": "R-7KQ3XM"},
    {"kind": "forgotten", "code": "R-7KQ3XM"},
    {"kind": "scrub_failed", "name": "Birch-12", "reason": "blocked"},
    # Kinds since issue 19.
    {"kind": "handed_over", "code": "R-7KQ3XM", "pseudonym": "Rowan-12", "track": "notice"},
    {
        "kind": "handover_note",
        "code": "R-7KQ3XM",
        "by": "Birch-12",
        "at": "2026-01-05 10:00 UTC",
        "text": "calls back after six",
        "track": "handover",
    },
    {
        "kind": "conversation",
        "code": "R-7KQ3XM",
        "messages": [
            {
                "at": "2026-01-05T10:00:00+00:00",
                "from": "requester",
                "name": None,
                "text": "hello",
                "media": None,
                "edited": False,
            }
        ],
        "track": "conversation",
    },
    {"kind": "sent", "code": "R-7KQ3XM", "reply_to": 9, "language": "uk", "track": "sent"},
    {
        "kind": "relay_in",
        "code": "R-7KQ3XM",
        "content": {"type": "text", "text": "hello"},
        "track": "relay",
        "peer": {"audience": "requester", "owner": None, "id": 7},
        "reply_to": 12,
    },
    {
        "kind": "relay_out",
        "pseudonym": "Birch-12",
        "content": {"type": "photo", "file_id": "AgAD", "caption": None, "album": "1334"},
        "track": "relay",
        "peer": {"audience": "volunteer", "owner": "v1", "id": 9},
        "reply_to": 3,
    },
    {"kind": "relay_edit", "message_id": 5, "sender": "R-7KQ3XM", "content": {"type": "text", "text": "fixed"}},
    {"kind": "relay_edit", "message_id": 5, "pseudonym": "Birch-12", "content": {"type": "text", "text": "fixed"}},
    {
        "kind": "delete",
        "message_ids": [3, 4],
        "entries": [{"id": 3, "at": "2026-01-05T10:00:00+00:00", "media": False, "code": "R-7KQ3XM", "editable": True}],
        "reason": "revoked",
        "report_to": "admin1",
        "name": "Birch-12",
    },
    {"kind": "delete", "chat_id": 1001, "locale": "uk", "message_ids": [1, 2, 3]},
    {"kind": "delete", "message_ids": [8]},
    {"kind": "neutralize", "message_id": 3, "media": True, "code": "R-7KQ3XM", "reason": "closed"},
    {
        "kind": "method",
        "method": "EditMessageText",
        "params": {"chat_id": 1, "message_id": 2, "text": "x"},
        "chat_id": 1,
    },
]


def test_every_kind_has_an_earlier_row_here() -> None:
    assert {row["kind"] for row in EARLIER_ROWS} == set(NOTICES)


@pytest.mark.parametrize("row", EARLIER_ROWS, ids=lambda row: str(row["kind"]))
def test_an_earlier_row_reads_as_its_class_and_is_stored_the_same_way(row: dict[str, Any]) -> None:
    notice = parse(row)
    assert type(notice) is NOTICES[row["kind"]]
    # The same layout; a kind that is tracked since (an escalation, issue 19) says so when it is stored again.
    assert notice.payload() == {**row, **({"track": notice.track} if notice.track else {})}


def test_a_row_written_with_empty_optional_fields_reads_the_same() -> None:
    """Earlier releases wrote ``"reply_to": null``; now an unset optional field is left out."""
    row = {
        "kind": "relay_in",
        "code": "R-7KQ3XM",
        "content": {"type": "text", "text": "hello"},
        "track": "relay",
        "peer": {"audience": "requester", "owner": None, "id": 7},
        "reply_to": None,
    }
    notice = parse(row)
    assert isinstance(notice, notices.RelayIn) and notice.reply_to is None
    assert parse(notice.payload()) == notice


def test_what_the_sender_reads_from_the_class() -> None:
    removals = {kind for kind, cls in NOTICES.items() if cls.removal}
    settled = {kind for kind, cls in NOTICES.items() if cls.settled_by_bad_request}
    case_content = {kind for kind, cls in NOTICES.items() if cls.case_content}
    assert removals == {"delete", "neutralize", "card_update"}
    assert settled == {"delete", "neutralize", "relay_edit", "card_update", "method"}
    assert case_content == {"full_card", "relay_in", "relay_edit", "handover_note", "conversation"}
    assert {kind for kind, cls in NOTICES.items() if cls.secret_inside} == {"reconnect_key"}
    assert not Notice.removal and not Notice.case_content  # a kind no class describes: an ordinary message
    assert Delete.recipient is None  # a removal goes wherever the message is

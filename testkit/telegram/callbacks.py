"""Callback queries: a person presses a button, the bot answers the press once and in time."""

from __future__ import annotations

from testkit.telegram.errors import MAX_CALLBACK_ANSWER_LENGTH, QUERY_TOO_OLD, ApiError, Json, bad_request
from testkit.telegram.params import Params
from testkit.telegram.state import WorldState
from testkit.telegram.stored import Account, CallbackAnswer, CallbackQueryRecord, StoredChat, StoredMessage


def press(world: WorldState, account: Account, chat: StoredChat, message: StoredMessage, data: str) -> Json:
    """The update a press sends: ``data`` is whatever the client sends, forged or not."""
    query_id = str(next(world.query_ids))
    world.callback_queries[query_id] = CallbackQueryRecord(
        query_id, account.id, chat.id, message.message_id, data, world.now()
    )
    chat_instance = str(abs(chat.id) * 1_000_003 % 10**19)
    return world.enqueue(
        "callback_query",
        {
            "id": query_id,
            "from": account.to_json(),
            "message": message.data,
            "chat_instance": chat_instance,
            "data": data,
        },
    )


def answer_callback_query(world: WorldState, p: Params) -> bool:
    text = p.text("text")
    if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
        raise bad_request("MESSAGE_TOO_LONG")
    query = world.callback_queries.get(p.text("callback_query_id") or "")
    if query is None or query.answer is not None or world.now() - query.created > world.callback_timeout:
        raise ApiError(400, QUERY_TOO_OLD)
    query.answer = CallbackAnswer(text or None, p.flag("show_alert"), p.text("url"))
    world.callback_answers[query.id] = query.answer
    return True

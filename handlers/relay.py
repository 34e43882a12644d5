"""Messages after submission: from a requester to their volunteer, and volunteers' answers back."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, StateFilter
from aiogram.types import Message
from aiogram.utils.formatting import Text

from handlers.filters import BoundReply, CaseCode, HasRole
from handlers.intake_chat import delete_messages
from handlers.refusals import answer_refusals
from services.context import Services
from services.errors import QueueError
from services.prompts import Ask, Bound
from storage.kinds import Role, Status
from storage.volunteers import VolunteerRecord
from views import requester as requester_views
from views import volunteer as volunteer_views


def content_of(message: Message) -> dict[str, Any] | None:
    """What a message says, as something the bot can send again: text, or a file id and caption."""
    if message.text is not None:
        return {"type": "text", "text": message.text}
    found: dict[str, Any] | None = None
    if message.photo:
        found = {"type": "photo", "file_id": message.photo[-1].file_id}
    for kind in ("voice", "document", "video", "audio", "animation", "video_note", "sticker"):
        media = getattr(message, kind)
        if found is None and media is not None:
            found = {"type": kind, "file_id": media.file_id}
    if found is None:
        return None
    found["caption"] = message.caption
    if message.media_group_id:
        found["album"] = message.media_group_id
    return found


def replied_id(message: Message) -> int | None:
    return message.reply_to_message.message_id if message.reply_to_message else None


async def _reply(message: Message, services: Services, text: Text | str) -> None:
    """Answer the requester, and remember the answer with their request so /wipe and /forget remove it."""
    sent = await message.answer(**(text.as_kwargs() if isinstance(text, Text) else {"text": text}))
    if message.from_user is not None:
        await services.intake.remember_in_chat(message.from_user.id, [sent.message_id])


async def location_refused(message: Message, bot: Bot, services: Services) -> None:
    """A location would say exactly where someone is: it is deleted, never passed on."""
    await delete_messages(bot, message.chat.id, [message.message_id])
    await _reply(message, services, requester_views.location_refused())


async def from_requester(message: Message, services: Services) -> None:
    assert message.from_user is not None
    content = content_of(message)
    request = await services.intake.open_request(message.from_user.id)
    if request is None:
        await _reply(message, services, requester_views.how_to_start())
        return
    refused = requester_views.cannot_pass_on()
    if content is None:
        await services.intake.remember_in_chat(message.from_user.id, [message.message_id])
        await _reply(message, services, refused)
        return
    try:
        await services.relay.from_requester(
            message.from_user.id, message.message_id, content, reply_to=replied_id(message)
        )
    except QueueError:  # nothing visible in it
        await services.intake.remember_in_chat(message.from_user.id, [message.message_id])
        await _reply(message, services, refused)
        return
    if request.status is Status.NEW:
        await _reply(message, services, requester_views.saved_until_claimed())


async def reply_command(message: Message, code: str, text: str, services: Services, volunteer: VolunteerRecord) -> None:
    await services.relay.to_requester(volunteer, code, {"type": "text", "text": text}, message.message_id)


async def reply_to_relayed(message: Message, bound: Bound, services: Services, volunteer: VolunteerRecord) -> None:
    """A reply to the person's message, or to the Reply prompt of their case, goes to them."""
    content = content_of(message)
    if content is None:
        await message.answer(volunteer_views.not_about_a_request())
        return
    await services.relay.to_requester(volunteer, bound.code, content, message.message_id, reply_to=replied_id(message))


async def not_about_a_request(message: Message) -> None:
    await message.answer(volunteer_views.not_about_a_request())


async def requester_edited(message: Message, services: Services) -> None:
    assert message.from_user is not None
    content = content_of(message)
    if content is None or not await services.relay.edit_from_requester(
        message.from_user.id, message.message_id, content
    ):
        await message.answer(requester_views.edits_not_read(in_intake=False))


async def volunteer_edited(message: Message, services: Services, volunteer: VolunteerRecord) -> None:
    content = content_of(message)
    if content is not None and content["type"] == "text" and content["text"].startswith("/reply"):
        # An edited "/reply CODE text": what the requester should see is the new text alone.
        parts = content["text"].split(maxsplit=2)
        content = {"type": "text", "text": parts[2]} if len(parts) == 3 else None
    if content is None or not await services.relay.edit_from_volunteer(volunteer, message.message_id, content):
        await message.answer(volunteer_views.edit_not_passed_on())


async def volunteer_chatter(message: Message) -> None:
    await message.answer(volunteer_views.how_to_write())


def build_requester_side() -> Router:
    router = Router(name="relay-requester")
    router.message.filter(F.chat.type == ChatType.PRIVATE, StateFilter(None), ~F.text.startswith("/"))
    router.message.register(location_refused, F.location | F.venue | F.live_period)
    router.message.register(from_requester, ~HasRole(Role.VOLUNTEER))
    router.edited_message.filter(F.chat.type == ChatType.PRIVATE, StateFilter(None), ~HasRole(Role.VOLUNTEER))
    router.edited_message.register(requester_edited)
    return router


def build_volunteer_side() -> Router:
    router = answer_refusals(Router(name="relay-volunteer"))
    router.message.filter(F.chat.type == ChatType.PRIVATE, HasRole(Role.VOLUNTEER))
    router.message.register(reply_command, Command("reply"), CaseCode(text=True))
    router.message.register(reply_to_relayed, F.reply_to_message, ~F.text.startswith("/"), BoundReply(Ask.REPLY))
    router.message.register(not_about_a_request, F.reply_to_message, ~F.text.startswith("/"))
    router.message.register(volunteer_chatter, ~F.text.startswith("/"))
    router.edited_message.filter(F.chat.type == ChatType.PRIVATE, HasRole(Role.VOLUNTEER))
    router.edited_message.register(volunteer_edited)
    return router

"""The Telegram model refuses what Telegram refuses and answers as Telegram answers, through real aiogram."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.methods import TelegramMethod
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    MessageEntity,
    ReplyKeyboardMarkup,
    ReplyParameters,
    Update,
)
from aiogram.utils.formatting import Bold, Text
from aiogram.utils.text_decorations import html_decoration

from storage import clock
from testkit.telegram import (
    ApiError,
    BotApiEmulator,
    EntityParseError,
    FakeTelegram,
    InProcessClient,
    NoSuchButton,
    NotModelled,
    Person,
    RecordingSession,
    parse_html,
    utf16_len,
)

TOKEN = "42:TEST-token-not-real"


class GetTelepathy(TelegramMethod[bool]):
    """A method Telegram does not have."""

    __returning__ = bool
    __api_method__ = "getTelepathy"


NOT_MODIFIED = "message is not modified: specified new message content and reply markup are exactly the same"


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """Built by hand, so nothing on the client side checks the data."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=d) for t, d in row] for row in rows]
    )


@pytest.fixture
def world() -> FakeTelegram:
    return FakeTelegram(token=TOKEN, bot_username="tropa_test_bot")


@pytest.fixture
async def bot(world: FakeTelegram) -> AsyncIterator[Bot]:
    bot = Bot(TOKEN, session=RecordingSession(world), default=DefaultBotProperties(parse_mode="HTML"))
    yield bot
    await bot.session.close()


@pytest.fixture
async def ann(world: FakeTelegram) -> Person:
    person = world.person(1001, first_name="Ann", username="ann")
    await person.send("/start")
    world.take_updates()
    return person


# --- formatting -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        ("5 &lt; 6 &amp;&amp; &quot;x&quot;", '5 < 6 && "x"', []),
        ("<b>x</b>", "x", [{"type": "bold", "offset": 0, "length": 1}]),
        (
            "<b>😀<i>y</i></b>",
            "😀y",
            [{"type": "bold", "offset": 0, "length": 3}, {"type": "italic", "offset": 2, "length": 1}],
        ),
        (
            '<a href="https://e.org">e</a>',
            "e",
            [{"type": "text_link", "offset": 0, "length": 1, "url": "https://e.org"}],
        ),
        (
            '<pre><code class="language-py">1</code></pre>',
            "1",
            [{"type": "pre", "offset": 0, "length": 1, "language": "py"}],
        ),
        (
            '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>',
            "st",
            [{"type": "spoiler", "offset": 0, "length": 1}, {"type": "spoiler", "offset": 1, "length": 1}],
        ),
        ("<blockquote expandable>q</blockquote>", "q", [{"type": "expandable_blockquote", "offset": 0, "length": 1}]),
        ("&#65;&#x42;&nbsp;", "AB&nbsp;", []),
        ("a > b", "a > b", []),
    ],
)
def test_html_parses_like_telegram(source: str, text: str, entities: list[dict[str, object]]) -> None:
    assert parse_html(source) == (text, entities)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("5 < 6", 'Unsupported start tag "" at byte offset 2'),
        ("я <br>", 'Unsupported start tag "br" at byte offset 3'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("x <b", "Unclosed start tag at byte offset 2"),
    ],
)
def test_html_errors_in_telegrams_words(source: str, reason: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(source)
    assert caught.value.reason == reason
    assert caught.value.description == f"Bad Request: can't parse entities: {reason}"


def test_utf16_len_counts_surrogate_pairs() -> None:
    assert utf16_len("a😀я") == 4


# --- sending text -------------------------------------------------------------------------------------------


async def test_text_over_4096_characters_is_refused(bot: Bot, ann: Person) -> None:
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(ann.id, "x" * 4097)
    sent = await bot.send_message(ann.id, "<b>" + "x" * 4096 + "</b>")  # counted after parsing
    assert len(sent.text or "") == 4096
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(ann.id, "  <b> </b> ")


async def test_html_must_escape_what_people_type(bot: Bot, ann: Person) -> None:
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(ann.id, "5 < 6")
    assert caught.value.message == ('Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 2')
    escaped = await bot.send_message(ann.id, html_decoration.quote("5 < 6"))
    assert escaped.text == "5 < 6"
    bold = await bot.send_message(ann.id, "<b>x</b>")
    assert bold.entities is not None
    assert [(e.type, e.offset, e.length) for e in bold.entities] == [("bold", 0, 1)]
    assert ann.texts() == ["5 < 6", "x"]


async def test_computed_entities_and_what_is_not_modelled(bot: Bot, ann: Person) -> None:
    with pytest.raises(NotModelled, match="parse_mode 'MarkdownV2'"):
        await bot.send_message(ann.id, "Done.", parse_mode="MarkdownV2")
    with pytest.raises(NotModelled, match="copyMessage: Tropa never called it"):
        await bot.copy_message(ann.id, ann.id, 1)
    keyboard_markup = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Help")]])
    with pytest.raises(NotModelled, match="inline keyboards"):
        await bot.send_message(ann.id, "Menu", reply_markup=keyboard_markup)
    assert ann.texts() == []
    content = Text("<pseudonym> & co. ", Bold("Claimed"))
    sent = await bot.send_message(ann.id, **content.as_kwargs())
    assert sent.text == "<pseudonym> & co. Claimed"
    assert sent.entities is not None
    assert sent.entities[0].type == "bold"
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(ann.id, "hi", parse_mode=None, entities=[MessageEntity(type="bold", offset=1, length=5)])


async def test_form_and_json_params_are_the_same_request(world: FakeTelegram, ann: Person) -> None:
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    as_json = await world.call("sendMessage", {"chat_id": ann.id, "text": "a", "reply_markup": markup})
    as_form = await world.call(
        "sendmessage",
        {
            "chat_id": str(ann.id),
            "text": "b",
            "reply_markup": '{"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}',
            "protect_content": "true",
        },
    )
    assert as_json["reply_markup"] == as_form["reply_markup"] == markup
    assert as_form["has_protected_content"] is True
    assert world.calls_of("sendMessage")[1].args["chat_id"] == ann.id
    with pytest.raises(ApiError, match="404: Not Found"):
        await world.call("sendTelepathy", {})


# --- buttons and callbacks ----------------------------------------------------------------------------------


async def test_callback_data_is_limited_to_64_bytes(bot: Bot, ann: Person) -> None:
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(ann.id, "pick", reply_markup=keyboard([("A", "a" * 65)]))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(ann.id, "pick", reply_markup=keyboard([("A", "я" * 33)]))  # 66 bytes
    await bot.send_message(ann.id, "pick", reply_markup=keyboard([("A", "я" * 32)]))
    text_only = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Nothing")]])
    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        await bot.send_message(ann.id, "pick", reply_markup=text_only)


async def test_pressing_a_button_sends_its_data(world: FakeTelegram, bot: Bot, ann: Person) -> None:
    old = await bot.send_message(ann.id, "old", reply_markup=keyboard([("Claim", "claim:1")]))
    await bot.send_message(ann.id, "new", reply_markup=keyboard([("Claim", "claim:2"), ("Claim all", "all")]))
    query = (await ann.press("Claim")).update["callback_query"]
    assert query["data"] == "claim:2"  # the newest message, exact label preferred
    assert query["message"]["text"] == "new"
    assert query["from"]["id"] == ann.id
    assert (await ann.press("all")).update["callback_query"]["data"] == "all"
    assert (await ann.press("Claim", message_id=old.message_id)).update["callback_query"]["data"] == "claim:1"
    assert (await ann.press_data(old.message_id, "forged:99")).update["callback_query"]["data"] == "forged:99"
    assert ann.can_press("Claim all") and not ann.can_press("Release")
    with pytest.raises(NoSuchButton, match=r"visible buttons: \['Claim', 'Claim all', 'Claim'\]"):
        await ann.press("Release")
    update_ids = [u["update_id"] for u in world.pending_updates()]
    assert update_ids == sorted(update_ids)
    assert len(update_ids) == 4


async def test_callback_queries_are_answered_once_and_in_time(world: FakeTelegram, bot: Bot, ann: Person) -> None:
    await bot.send_message(ann.id, "pick", reply_markup=keyboard([("A", "a")]))
    first = (await ann.press("A")).update["callback_query"]["id"]
    with pytest.raises(TelegramBadRequest, match="MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(first, text="x" * 201)
    await bot.answer_callback_query(first, text="Done", show_alert=True)
    assert world.callback_answers[first].text == "Done"
    assert world.callback_answers[first].show_alert is True
    with pytest.raises(TelegramBadRequest, match="query is too old and response timeout expired"):
        await bot.answer_callback_query(first)
    late = (await ann.press("A")).update["callback_query"]["id"]
    clock.travel(timedelta(seconds=16))
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query(late)
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("12345")


# --- editing and deleting -----------------------------------------------------------------------------------


async def test_edit_with_the_same_content_is_not_modified(bot: Bot, ann: Person) -> None:
    markup = keyboard([("A", "a")])
    sent = await bot.send_message(ann.id, "<b>Hi</b>", reply_markup=markup)
    with pytest.raises(TelegramBadRequest, match=NOT_MODIFIED):
        await bot.edit_message_text("<b>Hi</b>", chat_id=ann.id, message_id=sent.message_id, reply_markup=markup)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=ann.id, message_id=sent.message_id, reply_markup=markup)
    # Same text without the markup is a change: Telegram removes the keyboard.
    edited = await bot.edit_message_text("<b>Hi</b>", chat_id=ann.id, message_id=sent.message_id)
    assert isinstance(edited, Message)
    assert edited.edit_date is not None
    view = ann.message(sent.message_id)
    assert view.edited
    assert view.buttons == []
    mine = (await ann.send("my words")).message_id
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("theirs", chat_id=ann.id, message_id=mine)


async def test_delete_window_is_48_hours(world: FakeTelegram, bot: Bot, ann: Person) -> None:
    old = await bot.send_message(ann.id, "old")
    typed = (await ann.send("typed by Ann")).message_id
    clock.travel(timedelta(hours=48, seconds=1))
    with pytest.raises(TelegramBadRequest, match="message can't be deleted"):
        await bot.delete_message(ann.id, old.message_id)
    await bot.edit_message_text("expired", chat_id=ann.id, message_id=old.message_id)  # edits still work
    fresh = await bot.send_message(ann.id, "fresh")
    reply = (await ann.send("fresh from Ann")).message_id
    assert await bot.delete_message(ann.id, fresh.message_id) is True
    assert await bot.delete_message(ann.id, reply) is True  # both sides in a private chat
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(ann.id, fresh.message_id)
    assert await bot.delete_messages(ann.id, [old.message_id, typed, 999]) is True  # skips silently
    assert ann.deleted_ids() == [fresh.message_id, reply]
    assert [v.text for v in ann.visible()] == ["/start", "expired", "typed by Ann"]
    assert world.message(ann.id, fresh.message_id).deleted


# --- who can be messaged ------------------------------------------------------------------------------------


async def test_blocked_and_unknown_users(world: FakeTelegram, bot: Bot, ann: Person) -> None:
    stranger = world.person(2002, first_name="Bo")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(stranger.id, "hi")
    blocking = await ann.block_bot()
    assert blocking.update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    assert ann.blocked_bot
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(ann.id, "hi")
    await ann.send("/start")  # writing to the bot again unblocks it
    assert not ann.blocked_bot
    await bot.send_message(ann.id, "welcome back")
    group = world.group(title="Volunteers", members=[ann])
    await bot.send_message(group.id, "a card")
    world.remove_bot_from(group)
    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the supergroup chat"):
        await bot.send_message(group.id, "another card")


async def test_replies(world: FakeTelegram, bot: Bot, ann: Person) -> None:
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(ann.id, "re", reply_parameters=ReplyParameters(message_id=77))
    orphan = await bot.send_message(
        ann.id, "re", reply_parameters=ReplyParameters(message_id=77, allow_sending_without_reply=True)
    )
    assert orphan.reply_to_message is None
    photo = await ann.send_photo(caption="from Ann")
    relayed = await bot.send_photo(
        ann.id,
        world.message(ann.id, photo.message_id).data["photo"][-1]["file_id"],
        caption="<i>relayed</i>",
        reply_parameters=ReplyParameters(message_id=photo.message_id),
    )
    assert relayed.reply_to_message is not None
    assert relayed.reply_to_message.message_id == photo.message_id
    view = ann.message(relayed.message_id)
    assert (view.kind, view.text, view.reply_to) == ("photo", "relayed", photo.message_id)
    assert world.forwards() == []
    with pytest.raises(NotModelled, match="forwardMessage"):  # a forward shows whose message it was
        await bot.forward_message(ann.id, ann.id, photo.message_id)
    assert [call.method for call in world.forwards()] == ["forwardMessage"]


async def test_protect_content_is_recorded(world: FakeTelegram, ann: Person) -> None:
    default = DefaultBotProperties(parse_mode="HTML", protect_content=True)
    async with Bot(TOKEN, session=RecordingSession(world), default=default) as protected_bot:
        sent = await protected_bot.send_message(ann.id, "secret")
    assert sent.has_protected_content is True
    last = ann.last_from_bot()
    assert last is not None
    assert last.protected


async def test_faults_fire_before_any_effect(world: FakeTelegram, bot: Bot, ann: Person) -> None:
    world.inject("sendMessage", kind="429", retry_after=7)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(ann.id, "hi")
    assert caught.value.retry_after == 7
    assert ann.texts() == []
    world.inject(kind="500")
    with pytest.raises(TelegramServerError):
        await bot.send_message(ann.id, "hi")
    world.inject("sendMessage", kind="drop")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(ann.id, "hi")
    await bot.send_message(ann.id, "hi")
    assert ann.texts() == ["hi"]
    assert [c.ok for c in world.calls_of("sendMessage")] == [False, False, False, True]


async def test_media_groups_and_commands(world: FakeTelegram, bot: Bot, ann: Person) -> None:
    album = await bot.send_media_group(
        ann.id,
        [
            InputMediaPhoto(media=BufferedInputFile(b"1", "1.jpg"), caption="<b>one</b>"),
            InputMediaPhoto(media=BufferedInputFile(b"2", "2.jpg")),
        ],
    )
    assert len({m.media_group_id for m in album}) == 1
    assert album[0].caption == "one"
    assert album[1].photo is not None
    again = await bot.send_photo(ann.id, album[1].photo[-1].file_id)  # a known file_id is sent again
    assert again.photo is not None
    assert world.file(again.photo[-1].file_id).data == b"2"
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(ann.id, "no-such-file-id")
    sent = await ann.send_album(3, caption="three")
    assert len({action.update["message"]["media_group_id"] for action in sent}) == 1

    scope = BotCommandScopeChat(chat_id=ann.id)
    await bot.set_my_commands([BotCommand(command="start", description="Start")], scope=scope, language_code="ru")
    assert [c["command"] for c in world.my_commands({"type": "chat", "chat_id": ann.id}, "ru")] == ["start"]
    assert world.my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start Now", description="x")])


async def test_every_user_action_is_a_valid_update(world: FakeTelegram, bot: Bot, ann: Person) -> None:
    group = world.group(-1001112223334, "Desk", members=[ann])
    await bot.send_message(group.id, "Take it?", reply_markup=keyboard([("Claim", "c:1")]))
    said = await ann.send("hi")
    actions = [
        said,
        await ann.send_photo(caption="p"),
        await ann.send_document(),
        await ann.send_voice(),
        await ann.send_video_note(),
        await ann.send_sticker(),
        *await ann.send_album(2),
        await ann.reply(said.message_id, "re"),
        await ann.edit(said.message_id, "/help edited"),
        await ann.block_bot(),
        await ann.unblock_bot(),
        await ann.in_chat(group).send("/claim in the group"),
        await ann.in_chat(group).press("Claim"),
    ]
    parsed = [Update.model_validate(action.update, context={"bot": bot}) for action in actions]
    assert [u.event_type for u in parsed] == [
        *["message"] * 9,
        "edited_message",
        "my_chat_member",
        "my_chat_member",
        "message",
        "callback_query",
    ]
    contents = [u.message.content_type for u in parsed[:8] if u.message]
    assert contents == ["text", "photo", "document", "voice", "video_note", "sticker", "photo", "photo"]
    reply, edit, in_group = parsed[8].message, parsed[9].edited_message, parsed[12].message
    assert reply is not None
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == said.message_id
    assert edit is not None
    assert edit.text == "/help edited"
    assert in_group is not None
    assert in_group.chat.id == group.id
    assert [u.update_id for u in parsed] == sorted(u.update_id for u in parsed)


# --- in-process dispatching ---------------------------------------------------------------------------------


def build_dispatcher() -> Dispatcher:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Hello, <b>friend</b>", reply_markup=keyboard([("Claim", "claim:1")]))

    @router.callback_query(F.data.startswith("claim:"))
    async def claim(query: CallbackQuery) -> None:
        await query.answer("Claimed")
        if isinstance(query.message, Message):
            await query.message.edit_text("Claimed by you")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


async def test_in_process_client_drives_a_dispatcher(world: FakeTelegram, bot: Bot) -> None:
    client = InProcessClient(world, build_dispatcher(), bot)
    volunteer = world.person(3003, first_name="Vera")
    group = world.group(-1005550001111, "Volunteers", members=[volunteer], bot_is_admin=False)

    start = await volunteer.send("/start")
    await client.deliver()
    assert start.update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert volunteer.texts() == ["Hello, friend"]

    pressed = await volunteer.press("Claim")
    await client.deliver()
    assert pressed.answer.text == "Claimed"
    assert world.callback_answers[pressed.update["callback_query"]["id"]] == pressed.answer
    last = volunteer.last_from_bot()
    assert last is not None
    assert (last.text, last.edited, last.buttons) == ("Claimed by you", True, [])
    assert world.unanswered_queries() == []

    # Re-delivery of a handled update reaches the handlers again; the second answer is refused.
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await client.deliver_again(pressed.update)

    # A non-admin bot in privacy mode sees commands in a group, not chatter.
    chatter = await volunteer.in_chat(group).send("just talking")
    assert not chatter.delivered
    await volunteer.in_chat(group).send("/start@tropa_test_bot")
    await client.deliver()
    assert group.texts() == ["Hello, friend"]


async def test_wait_for_sees_changes(world: FakeTelegram, bot: Bot, ann: Person) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(ann.id, "eventually")

    task = asyncio.create_task(later())
    assert await world.wait_for(lambda: ann.texts(), timeout=2) == ["eventually"]
    await task
    with pytest.raises(TimeoutError, match="condition not met"):
        await world.wait_for(lambda: False, timeout=0.1)


# --- over HTTP ----------------------------------------------------------------------------------------------


async def test_http_emulator_with_aiogram_aiohttp_session(world: FakeTelegram) -> None:
    user = world.person(4004, first_name="Ira")
    async with BotApiEmulator(world) as emulator:
        session = AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
        async with Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML")) as bot:
            assert (await bot.get_me()).username == "tropa_test_bot"

            first, second = await user.send("hello"), await user.send("/start")
            updates = await bot.get_updates(timeout=1)
            assert [u.update_id for u in updates] == [first.update_id, second.update_id]
            assert len(await bot.get_updates(timeout=0)) == 2  # not confirmed yet
            assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == []
            assert world.pending_updates() == []  # confirmed by the offset

            poll = asyncio.create_task(bot.get_updates(offset=updates[-1].update_id + 1, timeout=5))
            await asyncio.sleep(0.1)
            third = await user.send("later")
            woke = await asyncio.wait_for(poll, 2)
            assert [u.update_id for u in woke] == [third.update_id]

            photo = await bot.send_photo(user.id, BufferedInputFile(b"jpeg bytes", "p.jpg"), caption="<b>c</b>")
            assert photo.photo is not None
            assert world.file(photo.photo[-1].file_id).data == b"jpeg bytes"
            with pytest.raises(TelegramServerError, match="Not Implemented: getFile: Tropa never called it"):
                await bot.get_file(photo.photo[-1].file_id)

            with pytest.raises(TelegramBadRequest, match="Unsupported start tag"):
                await bot.send_message(user.id, "5 < 6")
            world.inject("sendMessage", kind="429", retry_after=3)
            with pytest.raises(TelegramRetryAfter) as caught:
                await bot.send_message(user.id, "hi")
            assert caught.value.retry_after == 3
            world.inject("sendMessage", kind="drop")
            with pytest.raises(TelegramNetworkError):
                await bot.send_message(user.id, "hi")
            assert user.texts() == ["c"]

        other = AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
        async with Bot("42:wrong", session=other) as stranger:
            with pytest.raises(TelegramUnauthorizedError):
                await stranger.get_me()
        async with Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))) as b:
            with pytest.raises(TelegramNotFound, match="Not Found"):
                await b.session.make_request(b, GetTelepathy())

"""A request moves to another Telegram account with the key shown once after Submit (issue 18, point 8;
docs/decisions/0012): single use, rate-limited, the same answer to every wrong key, the old account cut off."""

from __future__ import annotations

import re
from datetime import timedelta

from services.context import Services
from services.reconnect import Outcome
from storage import clock
from testkit.telegram import Person
from tests.support.harness import Harness
from tests.support.inspect import count_rows, request_field
from tests.support.intake import choose_language, key_messages, reconnect_key, submit
from tests.support.team import admin, join, team

ATTACH = "I already have a request"
WRONG = "That key does not work. Check it and send it again as one message; after several wrong keys you have to wait."
TOO_MANY = "Too many wrong keys from this account. Please try again in an hour."
POLITE = "Thank you, we have received your message."
NOTED = "I have written it down"


async def to_the_key_question(person: Person) -> None:
    await choose_language(person)
    await person.press(ATTACH)
    assert person.last().startswith(person.t("Attach your request to this account")), person.last()


def attached(person: Person, code: str) -> bool:
    done = person.t(
        "Done: request {code} is now attached to this account. The other account no longer gets its messages. A "
        "new key follows; the one you sent works no more."
    )
    return done.format(code=code) in person.texts()


async def test_the_key_moves_the_request_and_the_old_account_loses_it(harness: Harness) -> None:
    h = harness
    _, vera = await team(h, 2001)
    old = h.person(1001)
    code = await submit(old)
    key = reconnect_key(old)
    assert re.fullmatch(r"R-[0-9A-Z]{6}(-[0-9A-Z]{4}){4}", key) and key.startswith(code)
    (shown,) = key_messages(old)
    assert shown.protected and shown.buttons == [[NOTED]]
    await vera.send(f"/claim {code}")
    await old.send("before the switch")

    new = h.person(1002, language_code="ru")
    await to_the_key_question(new)
    sent = await new.send(key.lower().replace("-", " "))  # as typed by hand: any case, spaces for dashes
    assert sent.message_id in new.deleted_ids()  # the key leaves the chat at once
    assert attached(new, code)
    new_key = reconnect_key(new)
    assert new_key != key and new_key.startswith(code)
    assert await count_rows(h, "fsm_state") == 0

    # The volunteer is told by code only; the conversation goes on with the new account.
    assert f"{code}: the person now writes from another device." in vera.texts()
    await new.send("now from the new phone")
    assert any("now from the new phone" in t for t in vera.texts())
    await vera.send(f"/reply {code} I see you")
    assert any(t.endswith("I see you") for t in new.texts())
    assert not any(t.endswith("I see you") for t in old.texts())
    assert await request_field(h, code, "language") == "ru"
    heading = new.t("Your key for request {code}").format(code=code)
    assert any(t.startswith(heading) for t in new.texts())  # in Russian from now on

    # The old account: what the bot could delete is gone, its messages reach nobody, it has no request.
    assert not [m for m in old.visible() if m.from_bot and code in m.text]
    await old.send("still me?")
    assert old.last() == "To ask for help, send /start."
    assert not any("still me?" in t for t in vera.texts())
    await old.send("/status")
    assert old.last() == "You have no request. Send /start to ask for help."

    # Single use: the key that moved it opens nothing any more, the new one does.
    third = h.person(1003)
    await to_the_key_question(third)
    await third.send(key)
    assert third.visible()[-2].text == WRONG and third.last().startswith("Attach your request")
    await third.send(new_key)
    assert attached(third, code)


async def test_a_wrong_key_gets_one_answer_whether_its_code_exists_or_not(harness: Harness) -> None:
    person = harness.person(1001)
    code = await submit(person)
    stranger = harness.person(1002)
    await to_the_key_question(stranger)
    answers = []
    for attempt in (f"{code}-AAAA-BBBB-CCCC-DDDD", "R-2345AB-AAAA-BBBB-CCCC-DDDD", "let me in"):
        await stranger.send(attempt)
        answers.append(stranger.visible()[-2].text)
    assert answers == [WRONG] * 3
    assert not any(attempt in t for t in stranger.texts() for attempt in ("AAAA", "let me in"))  # all deleted
    assert await request_field(harness, code, "status") == "new"


async def test_five_wrong_keys_an_hour_per_account(harness: Harness) -> None:
    person = harness.person(1001)
    code = await submit(person)
    key = reconnect_key(person)
    guesser = harness.person(1002)
    await to_the_key_question(guesser)
    for n in range(5):
        await guesser.send(f"R-2345AB-AAAA-BBBB-CCCC-DDD{n}")
    await guesser.send(key)  # even the right one waits now
    assert guesser.visible()[-2].text == TOO_MANY and not attached(guesser, code)
    clock.travel(timedelta(hours=1, minutes=1))
    await guesser.send(key)
    assert attached(guesser, code)


async def test_ten_wrong_keys_on_one_code_lock_it_for_a_day(harness: Harness) -> None:
    person = harness.person(1001)
    code = await submit(person)
    key = reconnect_key(person)
    for guesser_id in (1002, 1003):
        guesser = harness.person(guesser_id)
        await to_the_key_question(guesser)
        for n in range(5):
            await guesser.send(f"{code}-AAAA-BBBB-CCCC-DDD{n}")
    owner = harness.person(1004)
    await to_the_key_question(owner)
    await owner.send(key)
    assert owner.visible()[-2].text == WRONG  # the same answer as any wrong key: locked looks like wrong
    clock.travel(timedelta(hours=24, minutes=1))
    await owner.send(key)
    assert attached(owner, code)


async def test_a_blocked_persons_key_blocks_the_new_account_too(harness: Harness) -> None:
    h = harness
    boss = await admin(h)
    cora = await join(h, boss, 3001, "coordinator")
    person = h.person(1001)
    code = await submit(person)
    key = reconnect_key(person)
    await cora.send(f"/block {code}")
    new = h.person(1002)
    await to_the_key_question(new)
    await new.send(key)
    assert new.last() == POLITE
    await new.send("/start")
    assert new.last() == POLITE
    assert await request_field(h, code, "requester_blocked")


async def test_an_account_with_an_open_request_cannot_take_another(harness: Harness) -> None:
    h = harness
    first, second = h.person(1001), h.person(1002)
    await submit(first)
    key = reconnect_key(first)
    await submit(second)
    async with h.runtime.db.transaction() as session:
        services = Services(session, h.runtime.vault, h.app.policy, h.app.events)
        attempt = await services.reconnect.attach(user_id=second.id, chat_id=second.id, text=key, language="en")
    assert attempt.outcome is Outcome.HAS_REQUEST


async def test_the_key_message_goes_when_written_down_or_after_a_day(harness: Harness) -> None:
    h = harness
    person = h.person(1001)
    await submit(person)
    (shown,) = key_messages(person)
    await person.press(NOTED)
    assert shown.message_id in person.deleted_ids()

    other = h.person(1002)
    await submit(other)
    (left,) = key_messages(other)
    clock.travel(timedelta(hours=23))
    await h.run_jobs()
    assert left.message_id not in other.deleted_ids()
    clock.travel(timedelta(hours=1, minutes=11))
    await h.run_jobs()
    assert left.message_id in other.deleted_ids()  # a day, well under Telegram's 48 hours

    third = h.person(1003)
    await submit(third)
    (wiped,) = key_messages(third)
    await third.send("/wipe")
    assert wiped.message_id in third.deleted_ids() and third.visible() == []


async def test_a_key_the_bot_can_no_longer_delete_is_edited_away(harness: Harness) -> None:
    """The bot was down for two days: the key is past Telegram's 48 hours, so it is edited down instead."""
    person = harness.person(1001)
    code = await submit(person)
    key = reconnect_key(person)
    (shown,) = key_messages(person)
    clock.travel(timedelta(hours=49))
    await harness.run_jobs()
    assert shown.message_id not in person.deleted_ids()
    assert person.message(shown.message_id).text == f"The key for request {code} is no longer shown here."
    assert person.message(shown.message_id).buttons == []
    assert not any(key in text for text in person.texts())

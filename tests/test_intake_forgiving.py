"""A slip costs nothing (issue 18, point 7): what a person sends where the intake takes buttons leaves the chat at
once with a short, kind hint, and typed text can become the description with one tap."""

from __future__ import annotations

from tests.support.harness import Harness
from tests.support.inspect import count_rows, request_details
from tests.support.intake import (
    MYSELF,
    THIS_WEEK,
    IntakeAnswers,
    answer_questions,
    answer_situation,
    choose_all,
    reach_review,
    request_code,
    through_consent,
)

KEEP = "Keep it as my description"
STORY = "They came to our flat twice this week with a summons."
PHOTO_ADVICE = (
    "Send photos as photos, not as files: Telegram removes hidden data (such as location) from photos, not from files."
)


async def test_text_at_a_button_step_is_deleted_and_can_become_the_description(harness: Harness) -> None:
    person = harness.person(1001)
    await through_consent(person)
    await person.press(MYSELF)
    sent = await person.send(STORY)
    # Gone from the chat at once; one hint, then the question again, last.
    assert sent.message_id in person.deleted_ids()
    assert not [m for m in person.visible() if STORY in m.text]
    hint, question = person.visible()[-2:]
    assert hint.text.startswith("I deleted your message, so it does not stay in this chat.")
    assert hint.buttons == [[KEEP]]
    assert question.text == "How urgent is it?"

    await person.send("and one more thing")  # a second slip: one hint at a time
    hints = [m for m in person.visible() if m.text.startswith("I deleted your message")]
    assert len(hints) == 1 and hints[0].message_id != hint.message_id

    answer = (await person.press(KEEP)).answer
    assert answer.text == "Kept as your description. You will see it on the review."
    assert not [m for m in person.visible() if m.text.startswith("I deleted")]
    await person.press(THIS_WEEK)
    # The description step is ahead, and already answered: the review comes straight after the questions.
    answers = IntakeAnswers()
    await answer_situation(person, answers)
    await person.press(answers.location)
    for labels in (answers.health, answers.documents, answers.help):
        await choose_all(person, labels)
    assert person.last().startswith("Please check your answers")
    assert "Description: and one more thing" in person.last()
    await person.press("Submit")
    assert (await request_details(harness, request_code(person))).answers["description"] == "and one more thing"
    assert await count_rows(harness, "requests") == 1


async def test_a_voice_message_or_a_sticker_is_deleted_with_a_hint(harness: Harness) -> None:
    person = harness.person(1001)
    await through_consent(person)
    voice = await person.send_voice()
    assert voice.message_id in person.deleted_ids()
    hint = person.visible()[-2]
    assert hint.text == (
        "I deleted your voice message, so it does not stay in this chat.\n"
        "Please answer with the buttons under the question."
    )
    assert hint.buttons == []  # nothing typed, nothing to keep
    sticker = await person.send_sticker()
    assert sticker.message_id in person.deleted_ids()
    assert person.visible()[-2].text.startswith("I deleted what you sent, so it does not stay in this chat.")
    assert person.last() == "Who are you writing about?"


async def test_kept_text_on_the_review_replaces_the_description(harness: Harness) -> None:
    person = harness.person(1001)
    await reach_review(person)
    await person.send(STORY)
    await person.press(KEEP)
    assert f"Description: {STORY}" in person.last()
    await person.press("Submit")
    assert (await request_details(harness, request_code(person))).answers["description"] == STORY


async def test_a_photo_at_the_description_takes_only_text_and_says_how_to_send_photos(harness: Harness) -> None:
    person = harness.person(1001)
    await through_consent(person)
    await answer_questions(person, IntakeAnswers(description="placeholder"))  # to the review, then back
    await person.press("« Back")
    photo = await person.send_photo(caption="the summons")
    assert photo.message_id in person.deleted_ids()
    hint = person.visible()[-2].text
    assert hint.startswith("I deleted what you sent: here I take only a text message.")
    assert PHOTO_ADVICE in hint
    assert person.last().startswith("In a few words, what is happening?")


async def test_no_screen_invites_files(harness: Harness) -> None:
    """After Submit a file can still reach the volunteer, but the bot never asks for one."""
    person = harness.person(1001)
    await reach_review(person)
    await person.press("Submit")
    await person.send("/safety")
    await person.send("/help")
    for message in person.all_messages():
        if message.from_bot:
            assert "file" not in message.text.replace(PHOTO_ADVICE, ""), message.text
    assert PHOTO_ADVICE in "\n".join(person.texts())

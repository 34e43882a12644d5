"""Telegram's HTML formatting, computed the way the Bot API server computes it.

``parse_html`` turns a formatted source into the plain text and the list of entities Telegram would store,
or raises :class:`EntityParseError` with the reason in Telegram's own words (``Unsupported start tag "" at
byte offset 2``). Offsets in error reasons are UTF-8 byte offsets into the source; entity offsets and
lengths are UTF-16 code units of the result, as in the Bot API. HTML is the only parse mode Tropa uses;
the others (MarkdownV2, Markdown) are not modelled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

Entity = dict[str, Any]

__all__ = ["ENTITY_TYPES", "Entity", "EntityParseError", "FormattedText", "parse_html", "trim", "utf16_len"]

# fmt: off
ENTITY_TYPES = frozenset((
    "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bold", "italic",
    "underline", "strikethrough", "spoiler", "blockquote", "expandable_blockquote", "code", "pre",
    "text_link", "text_mention", "custom_emoji", "date_time",
))
# fmt: on


class EntityParseError(ValueError):
    """Unparsable formatting; ``reason`` is what Telegram says after "can't parse entities: "."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def description(self) -> str:
        return f"Bad Request: can't parse entities: {self.reason}"


class FormattedText(NamedTuple):
    text: str
    entities: list[Entity]


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of entity offsets in the Bot API."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _sort(entities: Iterable[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda entity: (entity["offset"], -entity["length"]))


class _Output:
    """The plain text being built, with its length in UTF-16 units."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self.offset = 0  # UTF-16 units
        self.size = 0  # characters

    def add(self, text: str) -> None:
        self._parts.append(text)
        self.offset += utf16_len(text)
        self.size += len(text)

    def text(self) -> str:
        return "".join(self._parts)


# --- HTML ---------------------------------------------------------------------------------------------------

# fmt: off
_HTML_TAGS = frozenset((
    "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "blockquote",
    "tg-spoiler", "span", "tg-emoji",
))
# fmt: on
_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _is_space(char: str) -> bool:
    # Telegram counts the terminating NUL as a space; "\0" stands for "past the end" here.
    return char in " \t\r\n\v\0"


def _decode_html_entity(source: str, index: int) -> tuple[str, int] | None:
    """Decode ``&...;`` at ``index``; ``None`` means the ``&`` is kept as a literal character."""
    end = index + 1
    if source.startswith("#", end):
        end += 1
        digits = "0123456789"
        base = 10
        if source.startswith(("x", "X"), end):
            end += 1
            digits = "0123456789abcdefABCDEF"
            base = 16
        start = end
        while end < len(source) and source[end] in digits:
            end += 1
        if end == start or not source.startswith(";", end):
            return None
        code = int(source[start:end], base)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        return chr(code), end + 1
    start = end
    while end < len(source) and source[end].isascii() and source[end].isalpha():
        end += 1
    name = source[start:end]
    if name not in _NAMED_ENTITIES or not source.startswith(";", end):
        return None
    return _NAMED_ENTITIES[name], end + 1


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int
    char_start: int
    entity_count: int


def parse_html(source: str) -> FormattedText:
    """Parse ``parse_mode=HTML`` text exactly as strictly as Telegram does."""
    out = _Output()
    entities: list[Entity] = []
    stack: list[_OpenTag] = []
    size = len(source)

    def at(index: int) -> str:
        return source[index] if index < size else "\0"

    i = 0
    while i < size:
        char = source[i]
        if char == "&":
            decoded = _decode_html_entity(source, i)
            if decoded is not None:
                out.add(decoded[0])
                i = decoded[1]
                continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        begin = i
        where = f"at byte offset {_byte_offset(source, begin)}"
        i += 1
        if at(i) != "/":
            while not _is_space(at(i)) and at(i) != ">":
                i += 1
            if i >= size:
                raise EntityParseError(f"Unclosed start tag {where}")
            tag = source[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise EntityParseError(f'Unsupported start tag "{tag}" {where}')
            argument, i = _html_attributes(source, i, tag, where)
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(f'Tag "span" must have class "tg-spoiler" {where}')
            stack.append(_OpenTag(tag, argument, out.offset, out.size, len(entities)))
            i += 1  # the closing ">"
            continue

        if not stack:
            raise EntityParseError(f"Unexpected end tag {where}")
        i += 1
        while not _is_space(at(i)) and at(i) != ">":
            i += 1
        end_name = source[begin + 2 : i].lower()
        while i < size and _is_space(at(i)):
            i += 1
        if at(i) != ">":
            raise EntityParseError(f"Unclosed end tag {where}")
        open_tag = stack.pop()
        if end_name and end_name != open_tag.name:
            raise EntityParseError(f'Unmatched end tag {where}, expected "</{open_tag.name}>", found "</{end_name}>"')
        i += 1
        if out.offset > open_tag.offset:
            _close_html_entity(open_tag, out, source, entities)

    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return FormattedText(out.text(), _sort(entities))


def _html_attributes(source: str, i: int, tag: str, where: str) -> tuple[str, int]:
    """Read the attributes of a start tag from ``i``; returns the tag's argument and the index of ">"."""
    size = len(source)

    def at(index: int) -> str:
        return source[index] if index < size else "\0"

    argument = ""
    while at(i) != ">":
        while i < size and _is_space(at(i)):
            i += 1
        if at(i) == ">":
            break
        if i >= size:
            raise EntityParseError(f"Unclosed start tag {where}")
        name_start = i
        while not _is_space(at(i)) and at(i) not in "=>":
            i += 1
        name = source[name_start:i].lower()
        if not name:
            raise EntityParseError(f'Empty attribute name in the tag "{tag}" {where}')
        while i < size and _is_space(at(i)):
            i += 1
        if at(i) != "=":
            if tag == "blockquote" and name == "expandable":
                argument = "1"
                continue
            raise EntityParseError(f'Expected equal sign in declaration of an attribute of the tag "{tag}" {where}')
        i += 1
        while i < size and _is_space(at(i)):
            i += 1
        if i >= size:
            raise EntityParseError(f'Unclosed start tag "{tag}" {where}')
        if at(i) not in "'\"":
            token_start = i
            while at(i).isascii() and (at(i).isalnum() or at(i) in ".-"):
                i += 1
            value = source[token_start:i].lower()
            if not _is_space(at(i)) and at(i) != ">":
                offset = _byte_offset(source, i)
                raise EntityParseError(f"Unexpected end of name token at byte offset {offset}")
        else:
            quote = source[i]
            i += 1
            chars: list[str] = []
            while i < size and source[i] != quote:
                decoded = _decode_html_entity(source, i) if source[i] == "&" else None
                if decoded is not None:
                    chars.append(decoded[0])
                    i = decoded[1]
                else:
                    chars.append(source[i])
                    i += 1
            if at(i) == quote:
                i += 1
            value = "".join(chars)
        if i >= size:
            raise EntityParseError(f"Unclosed start tag {where}")
        if tag == "a" and name == "href":
            argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            argument = value.removeprefix("language-")
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            argument = value.removeprefix("tg-")
        elif tag == "tg-emoji" and name == "emoji-id":
            argument = value
        elif tag == "blockquote" and name == "expandable":
            argument = "1"
    return argument, i


def _close_html_entity(tag: _OpenTag, out: _Output, source: str, entities: list[Entity]) -> None:
    offset, length = tag.offset, out.offset - tag.offset
    if tag.name in _HTML_SIMPLE:
        entity: Entity = {"type": _HTML_SIMPLE[tag.name], "offset": offset, "length": length}
        if tag.name == "code" and tag.argument:
            entity["language"] = tag.argument
        entities.append(entity)
    elif tag.name == "pre":
        inner = entities[-1] if len(entities) > tag.entity_count else None
        language = ""
        if inner and inner["type"] == "code" and (inner["offset"], inner["length"]) == (offset, length):
            language = inner.get("language", "")
            entities.pop()
        pre: Entity = {"type": "pre", "offset": offset, "length": length}
        if language:
            pre["language"] = language
        entities.append(pre)
    elif tag.name == "blockquote":
        kind = "expandable_blockquote" if tag.argument else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})
    elif tag.name == "tg-emoji":
        if not tag.argument.isdigit() or int(tag.argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append({"type": "custom_emoji", "offset": offset, "length": length, "custom_emoji_id": tag.argument})
    elif tag.name == "a":
        url = tag.argument or out.text()[tag.char_start :]
        if url.startswith("tg://user?id="):
            return  # a mention of a user by id; the model has no user to attach, so it is plain text
        if url:
            entities.append({"type": "text_link", "offset": offset, "length": length, "url": url})


# --- shared -------------------------------------------------------------------------------------------------

_TRIMMED = " \t\n\r\v\f"


def trim(formatted: FormattedText) -> FormattedText:
    """Drop leading and trailing blanks as Telegram does, moving and clipping entities to match."""
    text = formatted.text
    stripped = text.lstrip(_TRIMMED)
    head = utf16_len(text) - utf16_len(stripped)
    stripped = stripped.rstrip(_TRIMMED)
    size = utf16_len(stripped)
    entities: list[Entity] = []
    for entity in formatted.entities:
        start = max(entity["offset"] - head, 0)
        end = min(entity["offset"] + entity["length"] - head, size)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return FormattedText(stripped, _sort(entities))

"""An aiogram session that talks to a :class:`FakeTelegram` in-process, serializing like the real one."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, cast

from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile, URLInputFile

from testkit.telegram.errors import ApiError, DroppedConnection, NotModelled
from testkit.telegram.stored import Upload
from testkit.telegram.world import FakeTelegram

if TYPE_CHECKING:
    from aiogram import Bot


class RecordingSession(BaseSession):
    """Sends each request to ``world`` as the form ``AiohttpSession`` would post, and reads the answer
    with aiogram's own ``check_response``: results become aiogram types, errors aiogram's exceptions."""

    def __init__(self, world: FakeTelegram, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.world = world

    def build_params(self, bot: Bot, method: TelegramMethod[Any]) -> tuple[dict[str, Any], dict[str, InputFile]]:
        """The request's fields as form values (``Default``s resolved from ``bot.default``) and its files."""
        files: dict[str, InputFile] = {}
        params: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared:  # AiohttpSession leaves out empty values too
                # A str-based enum (ParseMode.HTML) goes over the wire as its plain string value.
                params[key] = str.__str__(prepared) if isinstance(prepared, str) else prepared
        return params, files

    @staticmethod
    async def _upload(bot: Bot, input_file: InputFile) -> Upload | str:
        if isinstance(input_file, URLInputFile):
            return input_file.url  # Telegram downloads it; nothing to read here
        data = b"".join([chunk async for chunk in input_file.read(bot)])
        return Upload(data, input_file.filename)

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - the signature of BaseSession.make_request
    ) -> TelegramType:
        params, files = self.build_params(bot, method)
        for key, input_file in files.items():
            params[key] = await self._upload(bot, input_file)
        status = 200
        if bot.token != self.world.token:
            status, payload = 401, ApiError(401, "Unauthorized").to_json()
        else:
            try:
                result = await self.world.call(method.__api_method__, params)
            except DroppedConnection as error:
                message = f"ServerDisconnectedError: {error}"
                raise TelegramNetworkError(method=method, message=message) from error
            except ApiError as error:
                status, payload = error.error_code, error.to_json()
            else:
                payload = {"ok": True, "result": result}
        response = self.check_response(bot=bot, method=method, status_code=status, content=self.json_dumps(payload))
        return cast(TelegramType, response.result)

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - the signature of BaseSession.stream_content
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        """Downloads (``getFile`` and ``/file/...``) are not modelled: Tropa relays files by their id."""
        raise NotModelled(f"downloading {url}: Tropa never downloads files, so the Telegram model leaves it out")
        yield b""  # pragma: no cover - makes this an async generator, as the base class declares

    async def close(self) -> None:
        return None

"""A local Bot API server over HTTP, backed by a :class:`FakeTelegram`, for running the real bot against.

The bot reaches it with ``AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))``. Requests and
answers follow the Bot API: ``POST``/``GET /bot<token>/<method>`` with a JSON, urlencoded or multipart
body; ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description", "parameters"}`` with
the HTTP status equal to the error code (501 for a method the model leaves out). Tests control it
through the shared ``world`` object. File downloads are not served: Tropa never downloads.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

from aiohttp import web

from testkit.telegram.errors import ApiError, DroppedConnection, NotModelled
from testkit.telegram.stored import Upload
from testkit.telegram.world import FakeTelegram

MAX_REQUEST_BYTES = 50 * 1024 * 1024


class BotApiEmulator:
    def __init__(self, world: FakeTelegram, host: str = "127.0.0.1", port: int = 0) -> None:
        self.world = world
        self.host = host
        self.port = port
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        return app

    async def start(self) -> str:
        """Listen on ``host:port`` (port 0 picks a free one); returns the base URL."""
        self.world.resume()
        self._runner = web.AppRunner(self._application(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.base_url = f"http://{self.host}:{self.port}"
        return self.base_url

    async def stop(self) -> None:
        """Release waiting long polls with empty answers, then close the server."""
        self.world.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @staticmethod
    def _error(error: ApiError) -> web.Response:
        return web.json_response(error.to_json(), status=error.error_code)

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.world.token:
            return self._error(ApiError(401, "Unauthorized"))
        try:
            params = await self._params(request)
        except ValueError:
            return self._error(ApiError(400, "Bad Request: can't parse request body"))
        try:
            result = await self.world.call(request.match_info["method"], params)
        except DroppedConnection:
            request.protocol.force_close()  # the client sees the server disconnect without an answer
            return web.Response()
        except ApiError as error:
            return self._error(error)
        except NotModelled as error:  # not Telegram's answer: the bot logs it, and the test sees why
            return self._error(ApiError(501, f"Not Implemented: {error}"))
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if not request.body_exists:
            return params
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("a JSON body must be an object")
            params.update(body)
            return params
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    params[key] = Upload(value.file.read(), value.filename, value.content_type)
                else:
                    params[key] = value
            return params
        text = await request.text()
        if text.strip():
            params.update(json.loads(text))
        return params

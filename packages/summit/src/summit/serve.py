"""`summit serve`: the read-only queue page over HTTP (aiohttp, in a thread of its own).

The page reads the state database: the controller in the main thread is the only writer, and
nothing over HTTP changes anything (GET only: no retry, no cancel).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from summit.errors import SummitError
from summit.page import as_json, render
from summit.state import State

# The log endpoint serves at most this much: the tail of a longer log.
LOG_LIMIT = 4 * 1024 * 1024
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STATE_KEY = web.AppKey("state", State)


def make_app(state_path: Path, dashboard: Callable[[], str | None], note: str) -> web.Application:
    """The queue page (`/`), the same as JSON (`/api/tasks`), and each task's latest log
    (`/log/TASK`, only a path the state recorded)."""

    async def open_state(app: web.Application) -> None:
        app[STATE_KEY] = State(state_path)

    async def close_state(app: web.Application) -> None:
        app[STATE_KEY].close()

    async def page(request: web.Request) -> web.Response:
        rows = request.app[STATE_KEY].tasks()
        text = render(rows, time.time(), dashboard(), note)
        return web.Response(text=text, content_type="text/html", headers=HEADERS)

    async def tasks(request: web.Request) -> web.Response:
        rows = request.app[STATE_KEY].tasks()
        return web.json_response(
            {"tasks": as_json(rows), "dashboard": dashboard()}, headers=HEADERS
        )

    async def log(request: web.Request) -> web.Response:
        row = request.app[STATE_KEY].task(request.match_info["name"])
        if row is None or row.log_path is None:
            raise web.HTTPNotFound(text="no such task log", headers=HEADERS)
        try:
            with open(row.log_path, "rb") as f:
                size = f.seek(0, 2)
                f.seek(max(size - LOG_LIMIT, 0))
                data = f.read(LOG_LIMIT)
        except FileNotFoundError:
            raise web.HTTPNotFound(text="log not written yet", headers=HEADERS) from None
        return web.Response(body=data, content_type="text/plain", charset="utf-8", headers=HEADERS)

    app = web.Application()
    app.on_startup.append(open_state)
    app.on_cleanup.append(close_state)
    app.router.add_get("/", page)
    app.router.add_get("/api/tasks", tasks)
    app.router.add_get("/log/{name}", log)
    return app


class Server:
    """The app served on HOST:PORT from a thread with its own event loop."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app, access_log=None)
        self._ready = threading.Event()
        self._errors: list[BaseException] = []
        self.url = ""
        self._thread = threading.Thread(
            target=self._main, args=(host, port), name="summit-http", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._errors:
            self._thread.join()
            raise SummitError(f"cannot serve on {host}:{port}: {self._errors[0]}")

    def _main(self, host: str, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start(host, port))
        except (OSError, SummitError) as err:
            self._errors.append(err)
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    async def _start(self, host: str, port: int) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.url = f"http://{shown}:{bound[1]}/"

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

"""A client's disconnect as a callback from the server, so a stream needs no task waiting on `receive()`.

A stream must stop when its client leaves (the upstream closed, the stream logged as 499). Under ASGI below 2.4
(uvicorn included) the only word of it is `receive()` answering `http.disconnect`, so each stream keeps a task
waiting on it for its whole life (~3% of a short stream's instructions). `bifrostc serve`'s protocol
(`http_server.GuardedHttpToolsProtocol`) puts a `DisconnectSignal` in each request's `scope["extensions"]` under
`SCOPE_KEY` (as `{"signal": ...}`: ASGI extensions are dicts) and fires it when the connection is lost; under
any other server the key is absent and the stream keeps its watcher task. (A request pipelined behind a stream
pauses the connection's reading, which the watcher's `receive()` would resume: such a client's leaving is seen
once a write to it fails, a keep-alive's at the latest. No client of this gateway pipelines.)
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, Final

SCOPE_KEY: Final = "bifrostc.disconnect"


class DisconnectSignal:
    """Fired once, when the request's connection is lost; a callback added after that runs at once."""

    __slots__ = ("_callbacks", "fired")

    def __init__(self) -> None:
        self._callbacks: list[Callable[[], None]] = []
        self.fired = False

    def add(self, callback: Callable[[], None]) -> None:
        if self.fired:
            callback()
        else:
            self._callbacks.append(callback)

    def discard(self, callback: Callable[[], None]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    @property
    def watched(self) -> bool:
        """Whether a callback waits (a finished request's signal has none, and can be forgotten)."""
        return bool(self._callbacks)

    def fire(self) -> None:
        self.fired = True
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


def signal_of(scope: MutableMapping[str, Any]) -> DisconnectSignal | None:
    """The request's signal, when its server gives one."""
    extension = (scope.get("extensions") or {}).get(SCOPE_KEY)
    signal = extension.get("signal") if isinstance(extension, dict) else None
    return signal if isinstance(signal, DisconnectSignal) else None

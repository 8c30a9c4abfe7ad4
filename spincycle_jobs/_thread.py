from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Call"]


class Call(threading.Thread):
    """A call in a thread of its own, keeping what it returned or raised.

    The thread is a daemon unless ``daemon=False``: then the interpreter
    waits for it at exit, as for a call that must not be cut short.
    """

    def __init__(self, call: Callable[[], Any], name: str, *, daemon: bool = True) -> None:
        super().__init__(name=name, daemon=daemon)
        self._call = call
        self._result: Any = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._result = self._call()
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread by outcome()
            self._error = err

    def outcome(self) -> Any:
        """Return what the call returned, or raise what it raised."""
        if self._error is not None:
            raise self._error
        return self._result

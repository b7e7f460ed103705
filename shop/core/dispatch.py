"""Flask's dispatch without a question it asks again and again with the same answer.

Flask passes every view and every before-, after- and teardown-request hook through
`app.ensure_sync` on every request, and that asks `inspect.iscoroutinefunction` each time:
seventeen times for an add to cart, a few hundredths of a millisecond that every request
Flask answers paid. Whether a function is `async def` never changes, so the answer for a
plain function is remembered (the app's views and hooks: a fixed set); async functions are
still wrapped by Flask on every call, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

# The app's views and hooks number in the hundreds; past this, answers are not remembered.
REMEMBERED_FUNCTIONS = 4096


class SyncAnswersRemembered:
    """`app.ensure_sync`, remembering the functions it returned unchanged."""

    def __init__(self, ensure_sync: Callable[[Callable], Callable]) -> None:
        self.ensure_sync = ensure_sync
        self.plain: set[Callable] = set()

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            if func in self.plain:
                return func
        except TypeError:  # an unhashable callable: ask every time
            return self.ensure_sync(func)
        made = self.ensure_sync(func)
        if made is func and len(self.plain) < REMEMBERED_FUNCTIONS:
            self.plain.add(func)
        return made


def init_app(app: Flask) -> None:
    app.ensure_sync = SyncAnswersRemembered(app.ensure_sync)  # type: ignore[method-assign]

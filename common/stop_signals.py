"""SIGTERM and SIGINT as a `threading.Event`, set from a watcher thread, never a handler.

Setting an Event inside a Python signal handler can hang the process for good: when a second
signal lands (Ctrl-C reaches the whole process group while the parent also sends SIGTERM)
while the first handler is inside `Event.set()`, the handler runs again in the same thread and
waits for the lock the interrupted call holds. Here the handler does nothing; the C-level
handler writes the signal number to a wakeup socket, and a thread turns it into the Event.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _ignore(_signum, _frame) -> None:
    """Replaces the default actions (exit, KeyboardInterrupt); the watcher does the work."""


@contextmanager
def stop_signals(on_stop: Callable[[int], None] | None = None) -> Iterator[threading.Event]:
    """An Event set when SIGTERM or SIGINT arrives; `on_stop(signum)` then runs in the
    watcher thread. Enter it in the main thread; the previous handlers come back on exit."""
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    receiver, sender = socket.socketpair()
    sender.setblocking(False)
    previous_fd = signal.set_wakeup_fd(sender.fileno(), warn_on_full_buffer=False)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _ignore)
    stop = threading.Event()
    threading.Thread(target=_watch, args=(receiver, stop, on_stop), name="stop-signals",
                     daemon=True).start()
    try:
        yield stop
    finally:
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sender.close()   # the watcher reads the end of the stream and exits


def _watch(receiver: socket.socket, stop: threading.Event,
           on_stop: Callable[[int], None] | None) -> None:
    # The receiver stays open until the block is left: a second Ctrl-C after the first must
    # still find a reader, or the C-level handler reports a BrokenPipeError on the terminal.
    with receiver:
        while True:
            received = receiver.recv(64)
            if not received:
                return   # the block was left
            arrived = [signum for signum in STOP_SIGNALS if signum in set(received)]
            if arrived and not stop.is_set():
                stop.set()
                if on_stop is not None:
                    on_stop(arrived[0])

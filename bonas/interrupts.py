"""Ctrl-C that cannot be lost: the long loops (``bonas.loop.run``, the replay runner) check it between steps."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def remembered_interrupts() -> Iterator[Callable[[], bool]]:
    """Ctrl-C raises ``KeyboardInterrupt`` as usual and is also remembered; yields ``pressed() -> bool``.

    Python drops an exception raised while a garbage-collector callback runs (it prints "Exception ignored in"
    and goes on), and a Ctrl-C landing there was lost in CI: the replay ran to the end. A loop that asks
    ``pressed()`` after each step stops there instead, and such a dropped ``KeyboardInterrupt`` is not printed
    (``sys.unraisablehook`` passes every other unraisable exception on). Left as is (``pressed`` always ``False``) off the main
    thread or when someone else handles SIGINT.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield lambda: False
        return
    presses: list[int] = []

    def remember(signum: int, frame: Any) -> None:
        presses.append(signum)
        raise KeyboardInterrupt

    previous_hook = sys.unraisablehook

    def unraisable(report: Any) -> None:
        if not (presses and isinstance(report.exc_value, KeyboardInterrupt)):
            previous_hook(report)

    signal.signal(signal.SIGINT, remember)
    sys.unraisablehook = unraisable
    try:
        yield lambda: bool(presses)
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.unraisablehook = previous_hook

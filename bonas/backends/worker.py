"""A :class:`~bonas.backends.LocalBackend` worker: a long-lived interpreter that evaluates one call at a time.

The parent starts it with ``python -c`` (:func:`command`), so the user's main
module is never imported here: a script without an ``if __name__ ==
"__main__":`` guard is not re-run. Parent and worker talk over two pipes
(never stdout or stderr, which an evaluation may print to), in frames of
:class:`multiprocessing.connection.Connection`:

* parent to worker: ``("evaluate", token, payload)`` (a callable pickled with
  cloudpickle, sent once per worker) and ``("call", token, arch)``; the
  parent's ``sys.path`` comes as ``PYTHONPATH``;
* worker to parent: ``("ready",)`` once started (the time it took to start
  is not counted against ``timeout_s``), then ``("answer", (value, info,
  error))`` for each call, from :func:`~bonas.backends.base.call_evaluate`.

The worker dies with its parent: on Linux the kernel sends it SIGKILL when the
parent goes (``PR_SET_PDEATHSIG``), and everywhere a watchdog thread exits the
process when the parent's pipe closes or the parent pid changes. Closing the
pipe is also how the parent stops a worker, busy or idle. SIGINT is ignored:
a Ctrl-C in the terminal reaches the parent, which stops its workers.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import queue
import signal
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from bonas.backends.base import call_evaluate

WATCH_INTERVAL_S = 0.5
"""How often the watchdog checks that the parent process still is the one that started this worker."""

PR_SET_PDEATHSIG = 1
"""``prctl`` option (``<linux/prctl.h>``): the signal this process gets when its parent thread exits."""


def command(parent_pid: int, read_fd: int, write_fd: int) -> list[str]:
    """The command line of a worker reading calls from ``read_fd`` and writing answers to ``write_fd``."""
    start = f"from bonas.backends.worker import serve; serve({parent_pid}, {read_fd}, {write_fd})"
    return [sys.executable, "-c", start]


def serve(parent_pid: int, read_fd: int, write_fd: int) -> None:
    """Answer the parent's calls until it closes its pipe or dies; never returns."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for fd in (read_fd, write_fd):
        os.set_inheritable(fd, False)  # processes an evaluation starts must not keep the pipes open
    inbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    busy = threading.Event()
    threading.Thread(target=_watch, args=(Connection(read_fd, writable=False), parent_pid, inbox, busy),
                     name="bonas-worker-watchdog", daemon=True).start()
    answers = Connection(write_fd, readable=False)
    _answer(answers, ("ready",))
    evaluates: dict[int, Any] = {}
    while True:
        kind, *fields = pickle.loads(inbox.get())
        if kind == "evaluate":
            token, payload = fields
            evaluates = {token: payload}  # one evaluate at a time: an old one may hold a whole dataset
        else:
            token, arch = fields
            busy.set()
            _answer(answers, ("answer", _call(evaluates, token, arch)))
            busy.clear()


def _answer(answers: Connection, message: tuple[Any, ...]) -> None:
    """Send ``message`` to the parent; exit if it stopped listening (it is stopping this worker)."""
    try:
        answers.send_bytes(pickle.dumps(message))
    except OSError:
        _exit(0)


def _call(evaluates: dict[int, Any], token: int, arch: bytes) -> tuple[float | None, dict[str, Any], str | None]:
    """Evaluate the pickled ``arch`` with the evaluate of ``token``, loaded on its first call."""
    try:
        if isinstance(evaluates[token], bytes):
            evaluates[token] = pickle.loads(evaluates[token])
        arch = pickle.loads(arch)
    except Exception as error:  # an evaluate or arch whose module this interpreter cannot import, say
        return None, {}, f"the worker could not load the evaluation: {type(error).__name__}: {error}"
    return call_evaluate(evaluates[token], arch)


def _watch(calls: Connection, parent_pid: int, inbox: queue.SimpleQueue, busy: threading.Event) -> None:
    """Pass the parent's messages to the main thread; exit when the parent closes the pipe or is gone."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        if not calls.poll(WATCH_INTERVAL_S):
            continue
        try:
            inbox.put(calls.recv_bytes())
        except (EOFError, OSError):
            if busy.is_set():
                os._exit(0)  # stopped mid-evaluation; a flush could wait on a print the evaluation is blocked in
            _exit(0)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux for SIGKILL when the parent dies; exit now if it already has (the race before the request)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def _exit(code: int) -> None:
    """Exit without waiting for threads an evaluation left running, after flushing what it printed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)

"""One writer per journal: an OS lock on a ``<journal>.lock`` file beside it, held while an optimizer is open.

The lock is ``fcntl.flock`` on the lock file (released by the kernel when the
holding process exits, however it dies), and the file records the holder's
pid and host so that a second writer is told who holds it. Within one process
the lock is shared, not re-taken: an optimizer loaded from a journal that
another optimizer of the same process has open takes over the writing once it
is built (:meth:`JournalLock.claim`), and the older one's writes are refused
from then on. A forked child may not write (appends check the pid) and closes
its copy of the descriptor, so the lock ends with the parent.

``flock`` is advisory and local: it does not protect a journal on a network
file system mounted by several hosts (the recorded host says where the holder
runs).
"""

from __future__ import annotations

import json
import os
import socket
import time
import weakref
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no flock; the lock file still records the holder, without exclusion
    fcntl = None


class JournalLockedError(RuntimeError):
    """The journal is open for writing elsewhere: another process, or a newer optimizer of this one."""


_HELD: "weakref.WeakValueDictionary[str, JournalLock]" = weakref.WeakValueDictionary()
"""This process's locks, by the lock file's real path: a second open of the same journal shares the lock."""


def lock_path(journal_path: Path) -> Path:
    """Where the lock of ``journal_path`` lives: ``run.jsonl`` -> ``run.jsonl.lock``."""
    return journal_path.with_name(journal_path.name + ".lock")


def _holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text())
        return f"process {holder['pid']} on {holder['host']} (since {holder['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


class JournalLock:
    """The exclusive lock of one journal, held by this process; ``writer`` is the journal allowed to append."""

    def __init__(self, journal_path: Path) -> None:
        self.path = lock_path(journal_path)
        self.journal_path = journal_path
        self.pid = os.getpid()
        self._writer: weakref.ref | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(descriptor)
                raise JournalLockedError(
                    f"{journal_path} is open for writing by {_holder(self.path)}; a journal takes one writer at a "
                    f"time. Close that optimizer (or let its process end) first, or read the journal without "
                    f"writing: Optimizer.load({str(journal_path)!r}, read_only=True)") from None
        self._descriptor = descriptor
        self._finalizer = weakref.finalize(self, os.close, descriptor)
        stamp = json.dumps({"pid": self.pid, "host": socket.gethostname(),
                            "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode()
        try:
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, stamp, 0)
        except OSError:
            self._finalizer()
            raise

    @classmethod
    def acquire(cls, journal_path: Path) -> "JournalLock":
        """This process's lock of ``journal_path``, taken now or shared with an optimizer already holding it.

        :raises JournalLockedError: naming the holder, when another process holds it.
        """
        key = os.path.realpath(lock_path(journal_path))
        held = _HELD.get(key)
        if held is not None and held.pid == os.getpid() and held.is_open:
            return held
        lock = cls(journal_path)
        _HELD[key] = lock
        return lock

    def _current_writer(self) -> Any:
        """The journal that may append now, ``None`` before any claim or once the claimant is gone."""
        return self._writer() if self._writer is not None else None

    @property
    def is_open(self) -> bool:
        return self._finalizer.alive

    def claim(self, journal: Any) -> Any:
        """Make ``journal`` the one that may append; any other journal sharing this lock is refused from now on.

        :returns: the journal that could append until now (or ``None``), for :meth:`hand_back`.
        """
        previous = self._current_writer()
        self._writer = weakref.ref(journal)
        return previous

    def hand_back(self, journal: Any, previous: Any) -> None:
        """``journal`` gives up a claim it could not use: ``previous`` writes again, or the lock is freed."""
        if previous is None:
            self.release(journal)
        else:
            self._writer = weakref.ref(previous)

    def check_writer(self, journal: Any) -> None:
        """Raise :class:`JournalLockedError` unless ``journal`` may append now (in this process, its claimant)."""
        if os.getpid() != self.pid:
            raise JournalLockedError(f"{self.journal_path} was opened by process {self.pid}; a forked process "
                                     f"({os.getpid()}) cannot write it: load it anew there")
        if not self.is_open:
            raise JournalLockedError(f"{self.journal_path} was closed; load it again to write")
        if self._current_writer() is not journal:
            raise JournalLockedError(f"{self.journal_path} was reopened by a newer optimizer in this process; "
                                     "this one can no longer write it: use the newer one")

    def release(self, journal: Any) -> None:
        """``journal`` is done: the lock is freed unless a newer journal of this process has claimed it."""
        writer = self._current_writer()
        if writer is None or writer is journal:
            self._finalizer()

    def forget_in_child(self) -> None:
        """In a forked child: close this process's copy of the descriptor, so the lock ends with the parent.

        Closing a copy does not release an ``flock`` that the parent's descriptor still holds.
        """
        if self._finalizer.detach() is not None:
            os.close(self._descriptor)


def _forget_locks_in_child() -> None:
    for lock in list(_HELD.values()):
        lock.forget_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_locks_in_child)

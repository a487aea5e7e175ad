"""A registry of named components (encodings, batch rules, spaces): one place per kind that declares them.

Strings appear where a user types them (``encoding="tw"``, ``--batch kdpp``); everything behind that looks
the name up once in its kind's :class:`Registry` and works with the object it finds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

Entry = TypeVar("Entry")


class UnknownNameError(KeyError, ValueError):
    """A name no component of its kind is registered under: a ``ValueError`` for callers, a ``KeyError`` for
    ``Mapping.get`` and ``in``."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Mapping[str, Entry], Generic[Entry]):
    """Name -> entry, in the order registered; looking up an unknown name raises :class:`UnknownNameError`
    listing the known ones.

    :param kind: what the entries are, for error messages (``"encoding"``, ``"batch"``).
    :param entry_type: the class of the entries :meth:`add` takes (each has a ``name``), if there is one.
    """

    def __init__(self, kind: str, entry_type: type | None = None) -> None:
        self.kind = kind
        self.entry_type = entry_type
        self._entries: dict[str, Entry] = {}

    def __getitem__(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(f"unknown {self.kind} {name!r}; expected one of {list(self._entries)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def register(self, name: str, entry: Entry, replace: bool = False) -> Entry:
        """Add ``entry`` under ``name``; ``ValueError`` for a name taken (unless ``replace``) or not a plain word."""
        if not isinstance(name, str) or not name or any(mark in name for mark in ":,"):
            raise ValueError(f"a {self.kind}'s name must be a non-empty string without ':' or ',', got {name!r}")
        if name in self._entries and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered; pass replace=True to replace it")
        self._entries[name] = entry
        return entry

    def add(self, entry: Entry, replace: bool = False) -> Entry:
        """Register ``entry`` (an ``entry_type``) under its own ``name``; see :meth:`register`."""
        if self.entry_type is not None and not isinstance(entry, self.entry_type):
            raise ValueError(f"a {self.kind} registry takes a {self.entry_type.__name__}, got {type(entry).__name__}")
        return self.register(entry.name, entry, replace)

    def unregister(self, name: str) -> None:
        """Remove the entry called ``name`` (:class:`UnknownNameError` if there is none)."""
        self[name]
        del self._entries[name]

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"

"""An optimizer's journal: create it with the settings, rebuild the optimizer from it (settings, every event,
trials in flight).

:meth:`bonas.Optimizer.load` is this module's :func:`load_journal`; the journal is the only state, so the
optimizer it returns asks exactly what the one that wrote the journal would have asked next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bonas.encoders import ENCODINGS
from bonas.journal import (
    Journal,
    JournalCorruptError,
    check_event_fields,
    check_not_bootstrapping,
)
from bonas.settings import OptimizerSettings
from bonas.spaces.base import Space
from bonas.spaces.registry import space_from_name
from bonas.trial import Trial
from bonas.validation import check_choice

if TYPE_CHECKING:
    from bonas.optimizer import Optimizer

logger = logging.getLogger(__name__)

REPLAY_ERRORS = (KeyError, ValueError, TypeError, AttributeError, RuntimeError, OverflowError)
"""What replaying an event that does not fit the optimizer raises; reported as :class:`JournalCorruptError`."""


def create_journal(path: Path, settings: OptimizerSettings) -> Journal:
    """A new journal at ``path``, locked and holding the ``create`` event; refused if one exists there."""
    check_not_bootstrapping(path)
    journal = Journal(path)
    journal.lock()
    try:
        # a file holding only a torn first line is a crash while creating it: nothing was recorded
        events = journal.read().events if journal.exists() else []
        if events:
            theirs = events[0].get("settings")
            theirs = theirs.get("space") if isinstance(theirs, dict) else None
            if theirs != settings.space:
                raise ValueError(f"{path} is a journal of space {theirs!r}, not {settings.space!r}")
            raise ValueError(f"{path} already holds a journal; resume it with Optimizer.load({str(path)!r})")
        journal.claim()
        journal.append({"event": "create", "settings": settings.to_json()})
    except BaseException:
        journal.close()
        raise
    return journal


def load_journal(cls: type["Optimizer"], path: str | Path, in_flight: str = "keep", device: str = "auto",
                 space: Space | None = None, read_only: bool = False,
                 feasible: Callable[[Any], bool] | None = None,
                 prior: Callable[[Any], Any] | None = None) -> "Optimizer":
    """The optimizer of the journal at ``path`` (see :meth:`bonas.Optimizer.load` for the arguments)."""
    check_choice(in_flight, "in_flight", ("keep", "abandon"))
    if read_only and in_flight == "abandon":
        raise ValueError("in_flight='abandon' writes to the journal; a read_only load cannot")
    journal = Journal(path)
    if read_only:
        return _load(cls, journal, in_flight, device, space, read_only=True, feasible=feasible, prior=prior)
    check_not_bootstrapping(Path(path))
    journal.lock()
    # claimed before it is read: an older optimizer of this process can append nothing the replay would miss
    previous = journal.claim()
    try:
        return _load(cls, journal, in_flight, device, space, read_only=False, feasible=feasible, prior=prior)
    except BaseException:
        journal.hand_back(previous)
        raise


def _check_passed_again(path: Path, argument: str, what: str, recorded: str | None, passed: Any, why: str) -> None:
    """``ValueError`` unless a function the journal names (``recorded``) is passed again, and none is passed for a
    journal written without one: code is not in the journal, only its name."""
    if recorded is not None and passed is None:
        raise ValueError(f"{path} was written with {what} {recorded!r}; pass it again: "
                         f"Optimizer.load({str(path)!r}, {argument}=...)")
    if recorded is None and passed is not None:
        raise ValueError(f"{path} was written without {what}; load it without {argument}= ({why})")


def _load(cls: type["Optimizer"], journal: Journal, in_flight: str, device: str, space: Space | None,
          read_only: bool, feasible: Callable[[Any], bool] | None,
          prior: Callable[[Any], Any] | None) -> "Optimizer":
    path = journal.path
    contents = journal.read()
    if not contents.events or contents.events[0]["event"] != "create":
        raise JournalCorruptError(f"{path}: the first event must be 'create' with the optimizer's settings")
    written = contents.events[0].get("settings")
    encoding = written.get("encoding") if isinstance(written, dict) else None
    if isinstance(encoding, str) and encoding not in ENCODINGS:
        raise ValueError(f"{path} was written with encoding {encoding!r}, which is not registered in this process; "
                         f"import the module that registers it (register_encoding) before Optimizer.load; known: "
                         f"{list(ENCODINGS)}")
    try:
        settings = OptimizerSettings.from_json(written)
    except (TypeError, ValueError) as error:
        raise JournalCorruptError(f"{path}, line 1: invalid settings: {error}") from None
    if space is None:
        try:
            space = space_from_name(settings.space)
        except ValueError:
            raise ValueError(f"{path} is a journal of space {settings.space!r}, which bonas cannot build by "
                             f"name; pass it: Optimizer.load({str(path)!r}, space=...)") from None
    elif space.name != settings.space:
        raise ValueError(f"{path} is a journal of space {settings.space!r}, not {space.name!r}")
    _check_passed_again(path, "feasible", "the feasibility predicate", settings.feasible, feasible,
                        "a predicate would change what the journal's asks were chosen among")
    _check_passed_again(path, "prior", "the cheap signals", settings.prior, prior,
                        "they would change the GP its asks were chosen by")
    try:
        optimizer = cls(space, device=device, feasible=feasible, prior=prior, _journal=journal, _settings=settings)
    except (TypeError, ValueError) as error:
        raise JournalCorruptError(f"{path}, line 1: invalid settings: {error}") from None
    _replay(optimizer, contents.events[1:], path)
    if read_only:
        optimizer._journal, optimizer.read_only = None, True
    running = optimizer.pending
    if running:
        logger.warning("%s: %d trial(s) in flight: %s", path, len(running), [trial.id for trial in running])
        if in_flight == "abandon":
            for trial in running:
                optimizer.tell(trial, state="abandoned", info={"reason": "abandoned on load"})
    return optimizer


def _replay(optimizer: "Optimizer", events: list[dict[str, Any]], path: str | Path) -> None:
    """Apply ``events`` (the journal's lines 2 on) to ``optimizer`` without writing them again."""
    journal, optimizer._journal = optimizer._journal, None
    try:
        for number, event in enumerate(events, start=2):
            check_event_fields(event, f"{path}, line {number}")
            try:
                _apply(optimizer, event)
            except REPLAY_ERRORS as error:
                raise JournalCorruptError(f"{path}, line {number}: cannot replay {event.get('event')!r}: "
                                          f"{error}") from None
    finally:
        optimizer._journal = journal


def _apply(optimizer: "Optimizer", event: dict[str, Any]) -> None:
    kind = event["event"]
    if kind in ("ask", "attach") and event["trial"] != optimizer._registry.next_id:
        raise ValueError(f"trial id {event['trial']} out of order; expected {optimizer._registry.next_id}")
    if kind == "ask":
        _restore_ask(optimizer, event)
    elif kind == "attach":
        optimizer.attach(optimizer.space.from_str(event["arch"]), event.get("values", event["value"]),
                         event.get("info"), fidelity=event.get("fidelity"))
    elif kind == "create":
        raise ValueError("a second 'create' event")
    else:
        state = {"tell": "complete", "fail": "failed", "abandon": "abandoned"}[kind]
        trial = optimizer.tell(event["trial"], event.get("values", event.get("value")), state=state,
                               info=event.get("info"))
        trial.told_at = event.get("told_at")


def _fidelity_of(optimizer: "Optimizer", event: dict[str, Any], arch: Any) -> tuple[Any, int | None]:
    """A journalled ask's fidelity and promoted trial, checked against the optimizer (and the class not held)."""
    fidelities = optimizer.fidelities
    if fidelities is None:
        if "fidelity" in event or "promoted_from" in event:
            raise ValueError("an ask with a fidelity in the journal of a single-fidelity optimizer")
        optimizer._registry.refuse_seen(arch)
        return None, None
    if "fidelity" not in event:
        raise ValueError("an ask without a fidelity in the journal of a multi-fidelity optimizer")
    fidelity = fidelities.check(event["fidelity"], "the ask's fidelity")
    promoted_from = event.get("promoted_from")
    if promoted_from is None:
        optimizer._registry.refuse_seen(arch)
    else:
        source = optimizer._registry.get(promoted_from)
        if source.arch_str != event["arch"] or source.fidelity is None or source.fidelity >= fidelity:
            raise ValueError(f"a promotion of trial {promoted_from} ({source.arch_str} at fidelity "
                             f"{source.fidelity}) to {event['arch']} at fidelity {fidelity}")
    optimizer._registry.refuse_held(arch, fidelity)
    return fidelity, promoted_from


def _restore_ask(optimizer: "Optimizer", event: dict[str, Any]) -> None:
    """Add a journalled ask's trial (in flight until its tell replays) and the kernel state it was asked with."""
    if not optimizer._n_asks <= event["ask"] <= optimizer._n_asks + 1:
        raise ValueError(f"ask number {event['ask']} out of order; after ask {optimizer._n_asks} comes the same "
                         f"or {optimizer._n_asks + 1}")
    arch = optimizer.space.from_str(event["arch"])
    fidelity, promoted_from = _fidelity_of(optimizer, event, arch)
    optimizer._registry.add(Trial(id=event["trial"], arch=arch, arch_str=event["arch"], asked_at=event.get("asked_at"),
                                  fidelity=fidelity, promoted_from=promoted_from))
    optimizer._n_asks = event["ask"]
    if "kernel" in event:
        optimizer.surrogate.load_kernel_state(event["kernel"])
    for metric, state in event.get("kernels", {}).items():
        if metric not in optimizer.surrogates:
            raise ValueError(f"a kernel state for {metric!r}, which is not a metric of this optimizer")
        optimizer.surrogates[metric].load_kernel_state(state)

"""A trial: one architecture asked by the optimizer (or attached), and what became of it; and the trials of a run."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from bonas.spaces.base import Space
from bonas.validation import is_integer


class TrialState(str, Enum):
    """Where a trial stands: asked and in flight, told a value, failed, or given up."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    ABANDONED = "abandoned"

    @property
    def is_finished(self) -> bool:
        """Whether the trial has an outcome (anything but running)."""
        return self is not TrialState.RUNNING


@dataclass
class Trial:
    """One architecture and its outcome.

    ``arch`` is the space's architecture value and ``arch_str`` its string form
    (what the journal stores). ``value`` is set when the state is ``COMPLETE``
    (of an optimizer with named ``objectives``: the objective's value, ``None``
    with two or more objectives; ``values`` then holds every told metric by name);
    ``info`` holds extra JSON-able results (a dict an evaluator returned, or the
    error of a failure). ``asked_at`` / ``told_at`` are Unix times in seconds. In a multi-fidelity search
    ``fidelity`` is the fidelity to evaluate at (e.g. training epochs) and ``promoted_from`` the id of the trial
    of the same cell at a lower fidelity that this one promotes (``None`` for a new cell); both ``None`` otherwise.
    """

    id: int
    arch: Any
    arch_str: str
    state: TrialState = TrialState.RUNNING
    value: float | None = None
    values: dict[str, float] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    asked_at: float | None = None
    told_at: float | None = None
    fidelity: int | float | None = None
    promoted_from: int | None = None

    def __post_init__(self) -> None:
        self.state = TrialState(self.state)


class TrialRegistry:
    """The trials of one optimizer, in id order, and which architecture classes they hold.

    A class (the space's ``canonical_key``) belongs to at most one trial that was not abandoned: an abandoned
    trial releases its class, so the architecture can be asked again. In a multi-fidelity search a class holds
    at most one such trial per fidelity: the first owns the class, the others are its promotions.
    """

    def __init__(self, space: Space) -> None:
        self.space = space
        self._trials: list[Trial] = []
        self._owner: dict[Hashable, int] = {}
        self._held: dict[Hashable, dict[int | float, int]] = {}

    def __len__(self) -> int:
        return len(self._trials)

    def __iter__(self) -> Iterator[Trial]:
        return iter(self._trials)

    @property
    def next_id(self) -> int:
        """The id the next trial gets."""
        return len(self._trials)

    @property
    def owner(self) -> dict[Hashable, int]:
        """Canonical key -> id of the trial holding that class (read it, do not change it)."""
        return self._owner

    def in_state(self, state: TrialState) -> list[Trial]:
        """The trials in ``state``, in id order."""
        return [trial for trial in self._trials if trial.state == state]

    def add(self, trial: Trial) -> None:
        """Append ``trial`` (its id must be :attr:`next_id`); its class (at its fidelity) is taken unless it is
        abandoned."""
        self._trials.append(trial)
        if trial.state != TrialState.ABANDONED:
            key = self.space.canonical_key(trial.arch)
            self._owner.setdefault(key, trial.id)
            if trial.fidelity is not None:
                self._held.setdefault(key, {})[trial.fidelity] = trial.id

    def release(self, trial: Trial) -> None:
        """Give ``trial``'s class (at its fidelity) back: it was abandoned."""
        key = self.space.canonical_key(trial.arch)
        held = self._held.get(key, {})
        if trial.fidelity is not None and held.get(trial.fidelity) == trial.id:
            del held[trial.fidelity]
        if self._owner.get(key) == trial.id:
            del self._owner[key]
            # a cell whose first trial is given up stays seen while it holds another fidelity
            if held:
                self._owner[key] = min(held.values())

    def at_fidelity(self, arch: Any, fidelity: int | float) -> Trial | None:
        """The trial (not abandoned) of ``arch``'s class at ``fidelity``, or ``None``."""
        trial_id = self._held.get(self.space.canonical_key(arch), {}).get(fidelity)
        return None if trial_id is None else self._trials[trial_id]

    def held_fidelities(self, arch: Any) -> dict[int | float, Trial]:
        """Fidelity -> trial (not abandoned) of ``arch``'s class, for every fidelity it holds."""
        held = self._held.get(self.space.canonical_key(arch), {})
        return {fidelity: self._trials[trial_id] for fidelity, trial_id in held.items()}

    def refuse_held(self, arch: Any, fidelity: int | float) -> None:
        """``ValueError`` if ``arch``'s class already has a trial (not abandoned) at ``fidelity``."""
        held = self.at_fidelity(arch, fidelity)
        if held is not None:
            raise ValueError(f"{self.space.to_str(arch)} is already trial {held.id} ({held.state.value}) at "
                             f"fidelity {fidelity}")

    def refuse_seen(self, arch: Any) -> None:
        """``ValueError`` if ``arch`` (or an equivalent cell) is already a trial that was not abandoned."""
        owner_id = self._owner.get(self.space.canonical_key(arch))
        if owner_id is not None:
            owner = self._trials[owner_id]
            raise ValueError(f"{self.space.to_str(arch)} is already trial {owner.id} ({owner.state.value})")

    def get(self, trial: Trial | int) -> Trial:
        """This registry's trial for ``trial`` (an id or a :class:`Trial`); ``KeyError`` if it has none."""
        trial_id = trial.id if isinstance(trial, Trial) else trial
        if not is_integer(trial_id) or not 0 <= trial_id < len(self._trials):
            raise KeyError(f"unknown trial {trial_id!r}; this optimizer has trials 0..{len(self._trials) - 1}")
        own = self._trials[int(trial_id)]
        if isinstance(trial, Trial) and trial.arch_str != own.arch_str:
            raise KeyError(f"trial {trial_id} ({trial.arch_str}) is not a trial of this optimizer: its trial "
                           f"{trial_id} is {own.arch_str}")
        return own

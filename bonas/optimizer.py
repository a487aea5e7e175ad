"""The ask/tell optimizer: a botorch GP over architecture encodings, with a crash-safe journal.

``ask(n)`` proposes architectures never told nor in flight; ``tell`` records a
value (maximised unless ``maximize=False``) or a failed/abandoned state;
``attach`` adds results obtained elsewhere. Every event is appended to a JSON
Lines journal before the call returns, and :meth:`Optimizer.load` rebuilds the
optimizer from that journal alone.
"""

from __future__ import annotations

import inspect
import logging
import math
import multiprocessing
import time
from functools import cached_property
from collections.abc import Container, Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gpytorch.kernels import Kernel
from torch import Tensor

from bonas.acquisition import (
    ACQUISITIONS,
    SELECTION_ERRORS,
    acquisition_values,
    believe,
    fallback_selection,
    select_greedy,
    select_kriging_believer,
    select_thompson,
)
from bonas.batch import select_kdpp_batch
from bonas.candidates import CANDIDATE_STRATEGIES, local_pool, whole_space
from bonas.encoders import make_encoder
from bonas.encoders.base import resolve_device
from bonas.journal import Journal, JournalCorruptError, check_event_fields
from bonas.kernels import make_kernel
from bonas.spaces.registry import space_from_name
from bonas.spaces.base import Space
from bonas.surrogate import OUTCOME_TRANSFORMS, fit_surrogate, transform_outcomes
from bonas.trial import Trial, TrialState

logger = logging.getLogger(__name__)

ENCODINGS = ("tw", "path", "wl", "adjacency", "cate")
DEFAULT_KERNEL = {"tw": "tw", "path": "tanimoto", "wl": "tanimoto", "adjacency": "tanimoto", "cate": "matern-iso"}
MIN_OBSERVATIONS = 2
"""The GP is never fitted on fewer results than this, whatever ``n_initial``."""
SAMPLE_ROUND = 40_000
"""Most architectures a random ask samples at once (``4 n`` for ``n`` up to 10,000)."""
STALE_ROUNDS = 3
"""Rounds of sampling that find no unseen architecture before an enumerable space is enumerated instead."""
BATCH_METHODS = ("kdpp", "kdpp-anchored", "kdpp-map", "greedy", "kriging-believer", "ts")
KDPP_POOL_PER_PICK = 4
"""By default a k-DPP batch of ``q`` is drawn among the ``4 q`` candidates best by acquisition.

Measured on NB201 replays (batches of 8, validation seeds 100-109, see
``benchmarks/RESULTS.md``): a shortlist of 500 spent the batch on diverse but
mediocre cells; ``4 q`` keeps the diversity among cells worth evaluating."""


class SpaceExhaustedError(RuntimeError):
    """Every architecture of the space has been asked (told, failed or in flight): nothing is left to propose."""


def _choice(name: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {list(allowed)}")
    return value


class Optimizer:
    """Bayesian optimisation over a search space, driven by ``ask`` and ``tell``.

    :param space: the search space (``bonas.spaces``).
    :param encoding: ``"tw"`` (tree-Wasserstein), ``"path"``, ``"wl"``, ``"adjacency"`` or ``"cate"``
        (a pretrained CATE transformer's embeddings under an isotropic Matern 5/2 kernel).
    :param acquisition: ``"ei"`` (botorch LogEI), ``"ucb"`` or ``"ts"`` (Thompson sampling). With ``"ts"``
        a single ask draws from the posterior; a batch chosen by ``kdpp``, ``greedy`` or
        ``kriging-believer`` scores its candidates by UCB, and ``ask(n, batch="ts")`` draws once per pick.
    :param n_initial: results told before the GP takes over; until then every ask is random. In-flight
        architectures do not count: a GP fitted on the first two or three results of a busy cluster
        chose worse than random cells would (``benchmarks/RESULTS.md``, asynchronous replays), so a
        cluster of ``w`` workers asks up to ``n_initial + w - 1`` random architectures.
    :param seed: seeds every random choice; the same seed and tells give the same asks.
    :param storage: path of the JSON Lines journal, or ``None`` to keep state in memory.
    :param maximize: ``False`` to minimise the told values.
    :param candidates: ``"local"`` (neighbourhoods of the best plus random cells) or ``"all"``
        (every unseen class of an enumerable space).
    :param pool_size: size of the local candidate pool.
    :param outcome_transform: ``"standardize"`` (the default: it gave the lowest replay regret,
        see ``benchmarks/RESULTS.md``), ``"copula"`` (ranks to normal quantiles) or ``"log-error"``
        (``-log(100 - value)``, for accuracies in percent, as NAS-BOWL).
    :param deterministic: the objective is noise-free (a table replay): noise is pinned near zero.
    :param device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
    :param kdpp_pool: how many candidates, best by acquisition, a k-DPP batch is drawn from;
        ``None`` is ``4 q`` for a batch of ``q``.
    :param kdpp_temperature: quality temperature of the k-DPP, ``q_i = exp(z_i / T)`` for the
        standardised posterior mean ``z``; smaller is greedier.
    :param checkpoint: with ``encoding="cate"``, a checkpoint from ``bonas pretrain-cate``;
        ``None`` is the one bonas ships for the space.
    """

    def __init__(
        self,
        space: Space,
        encoding: str = "tw",
        acquisition: str = "ei",
        n_initial: int = 10,
        seed: int = 0,
        storage: str | Path | None = None,
        maximize: bool = True,
        candidates: str = "local",
        pool_size: int = 1000,
        outcome_transform: str = "standardize",
        deterministic: bool = False,
        device: str = "auto",
        kdpp_pool: int | None = None,
        kdpp_temperature: float = 1.0,
        checkpoint: str | Path | None = None,
        _journal: Journal | None = None,
    ) -> None:
        self.space = space
        self.settings = {
            "space": space.name,
            "encoding": _choice("encoding", encoding, ENCODINGS),
            "acquisition": _choice("acquisition", acquisition, ACQUISITIONS),
            "n_initial": _positive(n_initial, "n_initial", minimum=1),
            "seed": _positive(seed, "seed", minimum=0),
            "maximize": bool(maximize),
            "candidates": _choice("candidates", candidates, CANDIDATE_STRATEGIES),
            "pool_size": _positive(pool_size, "pool_size", minimum=1),
            "outcome_transform": _choice("outcome_transform", outcome_transform, OUTCOME_TRANSFORMS),
            "deterministic": bool(deterministic),
            "kdpp_pool": None if kdpp_pool is None else _positive(kdpp_pool, "kdpp_pool", minimum=1),
            "kdpp_temperature": _positive_float(kdpp_temperature, "kdpp_temperature"),
            "checkpoint": None if checkpoint is None else str(checkpoint),
        }
        if checkpoint is not None and encoding != "cate":
            raise ValueError(f"checkpoint is for encoding='cate'; encoding is {encoding!r}")
        if outcome_transform == "log-error" and not maximize:
            raise ValueError("outcome_transform='log-error' models maximised accuracies; it needs maximize=True")
        if candidates == "all" and not space.is_enumerable:
            raise ValueError(f"candidates='all' needs an enumerable space; {space.name!r} is not")
        self.device = resolve_device(device)
        self._encoder = make_encoder(encoding, space, **_encoder_options(encoding, checkpoint, self.device))
        self._encoding_cache: dict[Any, Tensor] = {}
        self._trials: list[Trial] = []
        self._key_owner: dict[Hashable, int] = {}
        self._kernel_state: dict[str, Tensor] | None = None
        self._n_asks = 0
        self.last_fit = ""
        self.last_selection = ""
        self.read_only = False
        self._journal = _journal if _journal is not None else (
            self._create_journal(Path(storage)) if storage is not None else None)

    def _create_journal(self, path: Path) -> Journal:
        """A new journal at ``path``, locked and holding the ``create`` event; refused if one exists there."""
        _check_not_bootstrapping(path)
        journal = Journal(path)
        journal.lock()
        try:
            # a file holding only a torn first line is a crash while creating it: nothing was recorded
            events = journal.read().events if journal.exists() else []
            if events:
                settings = events[0].get("settings")
                theirs = settings.get("space") if isinstance(settings, dict) else None
                if theirs != self.space.name:
                    raise ValueError(f"{path} is a journal of space {theirs!r}, not {self.space.name!r}")
                raise ValueError(f"{path} already holds a journal; resume it with Optimizer.load({str(path)!r})")
            journal.claim()
            journal.append({"event": "create", "settings": self.settings})
        except BaseException:
            journal.close()
            raise
        return journal

    def close(self) -> None:
        """Release the journal's one-writer lock; this optimizer cannot write it any more. Idempotent.

        The lock is also released when the optimizer is garbage-collected or its process ends, however it ends.
        """
        if self._journal is not None:
            self._journal.close()

    def __enter__(self) -> "Optimizer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def trials(self) -> list[Trial]:
        """Every trial so far, in the order asked or attached."""
        return list(self._trials)

    @property
    def pending(self) -> list[Trial]:
        """Trials asked and not yet told."""
        return [trial for trial in self._trials if trial.state == TrialState.RUNNING]

    @property
    def completed(self) -> list[Trial]:
        """Trials with a value."""
        return [trial for trial in self._trials if trial.state == TrialState.COMPLETE]

    @property
    def best_trial(self) -> Trial | None:
        """The completed trial with the best value, ``None`` before the first."""
        done = self.completed
        if not done:
            return None
        sign = self._sign()
        return max(done, key=lambda trial: sign * trial.value)

    def _sign(self) -> float:
        return 1.0 if self.settings["maximize"] else -1.0

    def _encode(self, archs: Sequence[Any], cache: bool = True) -> Tensor:
        """``n x d`` encodings on the optimizer's device; with ``cache``, rows are kept for the next asks."""
        if not cache:
            return self._encoder.encode(list(archs)).to(self.device)
        missing = [arch for arch in dict.fromkeys(archs) if arch not in self._encoding_cache]
        if missing:
            for arch, row in zip(missing, self._encoder.encode(missing)):
                self._encoding_cache[arch] = row
        return torch.stack([self._encoding_cache[arch] for arch in archs]).to(self.device)

    def _rng(self) -> np.random.Generator:
        """A generator fixed by the seed and the number of asks so far (the same after a resume)."""
        return np.random.default_rng([self.settings["seed"], self._n_asks])

    def _random_archs(self, n: int, rng: np.random.Generator, exclude: Container[Hashable] = ()) -> list[Any]:
        """Up to ``n`` random unseen architectures, one per class, none of whose keys is in ``exclude``.

        Samples in rounds of ``4 n`` (at most ``SAMPLE_ROUND``); after ``STALE_ROUNDS`` rounds in a row that find
        nothing new, an enumerable space is enumerated and its unseen classes drawn from, so a request for more
        than is left returns what is left instead of sampling forever. Fewer than ``n`` only when the space has
        fewer unseen classes, or when a space too large to enumerate keeps repeating itself.
        """
        chosen: dict[Hashable, Any] = {}

        def unseen(key: Hashable) -> bool:
            return key not in self._key_owner and key not in chosen and key not in exclude

        stale = 0
        while len(chosen) < n and stale < STALE_ROUNDS:
            found = len(chosen)
            for arch in self.space.sample(min(4 * n, SAMPLE_ROUND), rng):
                key = self.space.canonical_key(arch)
                if unseen(key):
                    chosen[key] = arch
                if len(chosen) == n:
                    return list(chosen.values())
            stale = stale + 1 if len(chosen) == found else 0
        if self.space.is_enumerable:
            rest = [arch for arch in whole_space(self.space, self._key_owner) if unseen(self.space.canonical_key(arch))]
            for index in rng.permutation(len(rest))[: n - len(chosen)]:
                chosen[self.space.canonical_key(rest[index])] = rest[index]
        return list(chosen.values())

    def _candidates(self, rng: np.random.Generator) -> list[Any]:
        if self.settings["candidates"] == "all":
            return whole_space(self.space, self._key_owner)
        sign = self._sign()
        ranked = [trial.arch for trial in sorted(self.completed, key=lambda trial: -sign * trial.value)]
        pool = local_pool(self.space, ranked, self._key_owner, rng, self.settings["pool_size"])
        if not pool:
            pool = self._random_archs(1, rng)
        return pool

    def _model_based(self, n: int, batch: str, rng: np.random.Generator) -> list[Any]:
        candidates = self._candidates(rng)
        if len(candidates) < 2 * n:
            # a batch as large as the pool leaves the model no choice: random unseen cells widen it to twice the batch
            keys = {self.space.canonical_key(arch) for arch in candidates}
            candidates += self._random_archs(2 * n - len(candidates), rng, exclude=keys)
        if len(candidates) <= n:
            self.last_selection = "all-left"
            return self._left(candidates, n)
        done = self.completed
        train_X = self._encode([trial.arch for trial in done])
        values = torch.tensor([[self._sign() * trial.value] for trial in done], dtype=train_X.dtype, device=self.device)
        train_Y = transform_outcomes(values, self.settings["outcome_transform"])
        result = fit_surrogate(
            train_X,
            train_Y,
            lambda: self._new_kernel().to(train_X),
            deterministic=self.settings["deterministic"],
            warm_start=self._kernel_state,
        )
        self.last_fit = result.how
        if result.how in ("fit", "learned-noise"):
            self._kernel_state = {name: value.detach().clone()
                                  for name, value in result.model.covar_module.named_parameters()}
        # an enumerable space's pool recurs from ask to ask; elsewhere most candidates are new each time and
        # caching them would grow without bound (trials are cached: every fit re-encodes them)
        candidates_X = self._encode(candidates, cache=self.space.is_enumerable)
        pending = self.pending
        pending_X = self._encode([trial.arch for trial in pending]) if pending else None
        seed = int(rng.integers(2**31))
        try:
            chosen = self._select(result.model, candidates_X, n, batch, float(train_Y.max()), pending_X, seed)
            if len(set(chosen)) != n:
                raise RuntimeError(f"it chose {len(set(chosen))} distinct candidates of {n}")
            self.last_selection = batch
        except torch.OutOfMemoryError:
            raise
        except SELECTION_ERRORS as error:
            # an ask never crashes on the numbers of a model: a degenerate posterior falls back, logged
            logger.warning("batch selection %r failed (%s: %s); falling back", batch, type(error).__name__, error)
            chosen, self.last_selection = fallback_selection(result.model, candidates_X, n, seed)
        return [candidates[index] for index in chosen]

    def _select(self, model: Any, candidates_X: Tensor, n: int, batch: str, best_f: float,
                pending_X: Tensor | None, seed: int) -> list[int]:
        acquisition = self.settings["acquisition"]
        if batch == "ts" or (acquisition == "ts" and n == 1):
            return select_thompson(model, candidates_X, n, torch.Generator().manual_seed(seed))
        score_kind = "ucb" if acquisition == "ts" else acquisition
        if batch == "kriging-believer":
            return select_kriging_believer(model, candidates_X, n, score_kind, best_f, pending_X)
        if batch in ("kdpp", "kdpp-anchored", "kdpp-map"):
            believed = believe(model, pending_X) if pending_X is not None else model
            scores = acquisition_values(believed, candidates_X, score_kind, best_f)
            pool = self.settings["kdpp_pool"] or KDPP_POOL_PER_PICK * n
            return select_kdpp_batch(believed, candidates_X, n, method="greedy" if batch == "kdpp-map" else "sample",
                                     pool_limit=max(n, pool), scores=scores,
                                     temperature=self.settings["kdpp_temperature"],
                                     anchor=batch == "kdpp-anchored",
                                     generator=torch.Generator().manual_seed(seed))
        return select_greedy(model, candidates_X, n, score_kind, best_f, pending_X, seed=seed)

    def ask(self, n: int = 1, batch: str | None = None) -> list[Trial]:
        """Propose ``n`` architectures, none of them told or in flight; each becomes a running trial.

        :param batch: how a batch is chosen once the GP has taken over:
            ``"kdpp"`` (a quality k-DPP sample over the best candidates; the default for ``n > 1``),
            ``"kdpp-anchored"`` (the best candidate by acquisition, the sequential pick, plus a draw
            of the k-DPP conditioned on it, as UCB-DPP), ``"kdpp-map"`` (the k-DPP's greedy MAP,
            deterministic), ``"greedy"`` (one at a time with the
            chosen and in-flight ones as botorch ``X_pending``; the default for ``n = 1``),
            ``"kriging-believer"`` or ``"ts"`` (one Thompson draw per architecture). In-flight
            architectures are never proposed and, for every method but ``"ts"``, lower the value of
            their look-alikes.
        """
        _positive(n, "ask(n)", minimum=1)
        self.check_writable()
        batch = _choice("batch", batch, BATCH_METHODS) if batch is not None else ("kdpp" if n > 1 else "greedy")
        rng = self._rng()
        kernel_state = None
        if len(self.completed) < max(self.settings["n_initial"], MIN_OBSERVATIONS):
            archs = self._left(self._random_archs(n, rng), n)
        else:
            archs = self._model_based(n, batch, rng)
            if self._kernel_state is not None:
                # journalled so that a resumed optimizer warm-starts its next fit exactly as this one would
                kernel_state = {name: value.tolist() for name, value in self._kernel_state.items()}
        ask_number = self._n_asks + 1
        trials = []
        for arch in archs:
            trial = Trial(id=self._next_id(), arch=arch, arch_str=self.space.to_str(arch), state=TrialState.RUNNING,
                          value=None, asked_at=time.time())
            event = {"event": "ask", "trial": trial.id, "arch": trial.arch_str, "ask": ask_number,
                     "asked_at": trial.asked_at}
            if kernel_state is not None:
                event["kernel"] = kernel_state
            self._record(event)
            self._n_asks = ask_number
            self._add(trial)
            trials.append(trial)
        return trials

    def _left(self, archs: list[Any], n: int) -> list[Any]:
        """``archs``, all that is left of the ``n`` asked for: ``SpaceExhaustedError`` if none, logged if fewer."""
        if not archs:
            raise SpaceExhaustedError(f"every architecture of space {self.space.name!r} has been asked; "
                                      "nothing left to propose")
        if len(archs) < n:
            logger.warning("only %d unseen architecture(s) are left in space %r; asking %d instead of %d",
                           len(archs), self.space.name, len(archs), n)
        return archs

    def _refuse_seen(self, arch: Any) -> None:
        """``ValueError`` if ``arch`` (or an equivalent cell) is already a trial that was not abandoned."""
        owner_id = self._key_owner.get(self.space.canonical_key(arch))
        if owner_id is not None:
            owner = self._trials[owner_id]
            raise ValueError(f"{self.space.to_str(arch)} is already trial {owner.id} ({owner.state.value})")

    def check_writable(self) -> None:
        """Raise unless ``ask``, ``tell`` and ``attach`` can record: ``RuntimeError`` for a ``read_only`` load,
        :class:`~bonas.journal_lock.JournalLockedError` for a journal closed, handed over or of a parent process."""
        if self.read_only:
            raise RuntimeError("this optimizer was loaded with read_only=True; load the journal without it to "
                               "ask, tell or attach")
        if self._journal is not None:
            self._journal.check_writable()

    def _next_id(self) -> int:
        return len(self._trials)

    def _add(self, trial: Trial) -> None:
        self._trials.append(trial)
        if trial.state != TrialState.ABANDONED:
            self._key_owner[self.space.canonical_key(trial.arch)] = trial.id

    def _record(self, event: dict[str, Any]) -> None:
        if self._journal is not None:
            self._journal.append(event)

    def _trial(self, trial: Trial | int) -> Trial:
        trial_id = trial.id if isinstance(trial, Trial) else trial
        if isinstance(trial_id, bool) or not isinstance(trial_id, (int, np.integer)) or not 0 <= trial_id < len(self._trials):
            raise KeyError(f"unknown trial {trial_id!r}; this optimizer has trials 0..{len(self._trials) - 1}")
        own = self._trials[int(trial_id)]
        if isinstance(trial, Trial) and trial.arch_str != own.arch_str:
            raise KeyError(f"trial {trial_id} ({trial.arch_str}) is not a trial of this optimizer: its trial "
                           f"{trial_id} is {own.arch_str}")
        return own

    def _value(self, value: Any, label: str) -> float:
        """A finite value, below 100 when the log-error transform needs accuracies in percent."""
        value = _finite(value, label)
        if self.settings["outcome_transform"] == "log-error" and value >= 100:
            raise ValueError(f"{label} is {value!r}; outcome_transform='log-error' takes accuracies in percent, "
                             "below 100")
        return value

    def tell(
        self,
        trial: Trial | int,
        value: float | None = None,
        state: str = "complete",
        info: dict[str, Any] | None = None,
    ) -> Trial:
        """Record the outcome of a running trial: a finite ``value``, or ``state="failed"`` / ``"abandoned"``.

        Raises ``KeyError`` for an unknown trial and ``ValueError`` for a trial
        already told or a value that is not a finite number; the journal is
        unchanged then.
        """
        self.check_writable()
        target = self._trial(trial)
        new_state = TrialState(_choice("state", state, ("complete", "failed", "abandoned")))
        if target.state != TrialState.RUNNING:
            raise ValueError(f"trial {target.id} ({target.arch_str}) was already told: it is {target.state.value}")
        info = dict(info or {})
        if new_state == TrialState.COMPLETE:
            value = self._value(value, f"value told for trial {target.id}")
        elif value is not None:
            raise ValueError(f"a {new_state.value} trial takes no value; got {value!r} for trial {target.id}")
        event = {"complete": "tell", "failed": "fail", "abandoned": "abandon"}[new_state.value]
        told_at = time.time()
        self._record({"event": event, "trial": target.id, "value": value, "info": info, "told_at": told_at})
        target.state, target.value, target.info, target.told_at = new_state, value, info, told_at
        if new_state == TrialState.ABANDONED:
            self._key_owner.pop(self.space.canonical_key(target.arch), None)
        return target

    def attach(self, arch: Any, value: float, info: dict[str, Any] | None = None) -> Trial:
        """Add a result obtained elsewhere (a warm start) as a completed trial."""
        self.check_writable()
        self.space.validate(arch)
        value = self._value(value, "attached value")
        self._refuse_seen(arch)
        now = time.time()
        trial = Trial(id=self._next_id(), arch=arch, arch_str=self.space.to_str(arch), state=TrialState.COMPLETE,
                      value=value, info=dict(info or {}), asked_at=now, told_at=now)
        self._record({"event": "attach", "trial": trial.id, "arch": trial.arch_str, "value": value,
                      "info": trial.info, "told_at": now})
        self._add(trial)
        return trial

    @classmethod
    def load(cls, path: str | Path, in_flight: str = "keep", device: str = "auto",
             space: Space | None = None, read_only: bool = False) -> "Optimizer":
        """Rebuild an optimizer from its journal and keep appending to it.

        A journal has one writer: the optimizer holds its lock (a ``<path>.lock`` file) until
        :meth:`close`, garbage collection or the end of its process. Loading a journal that another
        process has open raises :class:`bonas.journal_lock.JournalLockedError` naming that process;
        loading one that an optimizer of this process has open hands the writing over to the new
        optimizer (the old one's ``ask`` and ``tell`` raise from then on).

        :param in_flight: what to do with trials asked but never told:
            ``"keep"`` (still running; tell them later) or ``"abandon"``
            (recorded as abandoned, so their architectures can be asked again).
        :param space: the search space, needed for a space bonas cannot build by name (a
            ``CellSpace``, a ``SubsetSpace``, your own ``Space``); its name must be the journal's.
        :param read_only: read the journal without its lock (e.g. while a run writes it): the
            trials and ``best_trial`` are there, ``ask``, ``tell`` and ``attach`` raise.
        """
        _choice("in_flight", in_flight, ("keep", "abandon"))
        if read_only and in_flight == "abandon":
            raise ValueError("in_flight='abandon' writes to the journal; a read_only load cannot")
        journal = Journal(path)
        if read_only:
            return cls._load(journal, in_flight, device, space, read_only=True)
        _check_not_bootstrapping(Path(path))
        journal.lock()
        # claimed before it is read: an older optimizer of this process can append nothing the replay would miss
        previous = journal.claim()
        try:
            return cls._load(journal, in_flight, device, space, read_only=False)
        except BaseException:
            journal.hand_back(previous)
            raise

    @classmethod
    def _load(cls, journal: Journal, in_flight: str, device: str, space: Space | None,
              read_only: bool) -> "Optimizer":
        path = journal.path
        contents = journal.read()
        if not contents.events or contents.events[0]["event"] != "create":
            raise JournalCorruptError(f"{path}: the first event must be 'create' with the optimizer's settings")
        settings = _journalled_settings(contents.events[0], path)
        name = settings.pop("space")
        if space is None:
            try:
                space = space_from_name(name)
            except ValueError:
                raise ValueError(f"{path} is a journal of space {name!r}, which bonas cannot build by name; "
                                 f"pass it: Optimizer.load({str(path)!r}, space=...)") from None
        elif space.name != name:
            raise ValueError(f"{path} is a journal of space {name!r}, not {space.name!r}")
        try:
            optimizer = cls(space, storage=path, device=device, _journal=journal, **settings)
        except (TypeError, ValueError) as error:
            raise JournalCorruptError(f"{path}, line 1: invalid settings: {error}") from None
        optimizer._replay(contents.events[1:], path)
        if read_only:
            optimizer._journal, optimizer.read_only = None, True
        running = optimizer.pending
        if running:
            logger.warning("%s: %d trial(s) in flight: %s", path, len(running), [trial.id for trial in running])
            if in_flight == "abandon":
                for trial in running:
                    optimizer.tell(trial, state="abandoned", info={"reason": "abandoned on load"})
        return optimizer

    def _replay(self, events: list[dict[str, Any]], path: str | Path) -> None:
        journal, self._journal = self._journal, None
        try:
            for number, event in enumerate(events, start=2):
                check_event_fields(event, f"{path}, line {number}")
                try:
                    self._apply(event)
                except (KeyError, ValueError, TypeError, AttributeError, RuntimeError, OverflowError) as error:
                    raise JournalCorruptError(f"{path}, line {number}: cannot replay {event.get('event')!r}: {error}") from None
        finally:
            self._journal = journal

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind in ("ask", "attach") and event["trial"] != self._next_id():
            raise ValueError(f"trial id {event['trial']} out of order; expected {self._next_id()}")
        if kind == "ask":
            if not self._n_asks <= event["ask"] <= self._n_asks + 1:
                raise ValueError(f"ask number {event['ask']} out of order; after ask {self._n_asks} comes the same "
                                 f"or {self._n_asks + 1}")
            arch = self.space.from_str(event["arch"])
            self._refuse_seen(arch)
            self._add(Trial(id=event["trial"], arch=arch, arch_str=event["arch"], asked_at=event.get("asked_at")))
            self._n_asks = event["ask"]
            if "kernel" in event:
                self._kernel_state = self._journalled_kernel(event["kernel"])
        elif kind == "attach":
            self.attach(self.space.from_str(event["arch"]), event["value"], event.get("info"))
        elif kind == "create":
            raise ValueError("a second 'create' event")
        else:
            state = {"tell": "complete", "fail": "failed", "abandon": "abandoned"}[kind]
            self.tell(event["trial"], event.get("value"), state=state, info=event.get("info"))
            self._trials[event["trial"]].told_at = event.get("told_at")

    def _new_kernel(self) -> Kernel:
        """The encoding's kernel over this optimizer's encodings, at its default hyperparameters."""
        return make_kernel(DEFAULT_KERNEL[self.settings["encoding"]], self._encoder.dim,
                           groups=getattr(self._encoder, "groups", None))

    @cached_property
    def _kernel_shapes(self) -> dict[str, torch.Size]:
        """Shape of each named parameter of the kernel, which a journalled kernel state must match."""
        return {name: parameter.shape for name, parameter in self._new_kernel().named_parameters()}

    def _journalled_kernel(self, state: Any) -> dict[str, Tensor]:
        """A journalled kernel state, checked against the parameters of this optimizer's kernel."""
        if not isinstance(state, dict):
            raise ValueError(f"kernel state is a {type(state).__name__}, not an object")
        tensors = {name: torch.tensor(value, dtype=torch.float64, device=self.device) for name, value in state.items()}
        for name, tensor in tensors.items():
            if name not in self._kernel_shapes:
                raise ValueError(f"the {self.settings['encoding']} kernel has no parameter {name!r}")
            if tensor.shape != self._kernel_shapes[name]:
                raise ValueError(f"kernel parameter {name!r} of shape {tuple(tensor.shape)} does not fit the "
                                 f"{self.settings['encoding']} kernel (expected {tuple(self._kernel_shapes[name])})")
        return tensors

    def __repr__(self) -> str:
        return (f"Optimizer(space={self.space.name!r}, encoding={self.settings['encoding']!r}, "
                f"trials={len(self._trials)}, pending={len(self.pending)})")


def _journalled_settings(created: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The settings of a journal's ``create`` event; ``JournalCorruptError`` naming what is missing or unknown."""
    settings = created.get("settings")
    if not isinstance(settings, dict) or "space" not in settings:
        raise JournalCorruptError(f"{path}, line 1: the 'create' event has no settings with a space")
    known = set(inspect.signature(Optimizer).parameters) - {"storage", "device", "_journal"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise JournalCorruptError(f"{path}, line 1: unknown setting(s) {unknown}; written by another bonas version?")
    return dict(settings)


def _encoder_options(encoding: str, checkpoint: str | Path | None, device: torch.device) -> dict[str, Any]:
    """Keyword arguments of ``make_encoder``: the CATE transformer runs on the optimizer's device; the other
    encoders are Python graph walks whose rows are cached on the CPU."""
    if encoding != "cate":
        return {}
    return {"device": device, **({"checkpoint": checkpoint} if checkpoint is not None else {})}


def _positive(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _positive_float(value: Any, name: str) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
            or not math.isfinite(float(value)) or value <= 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number; an integer of {len(str(abs(int(value))))} digits "
                         "overflows a float") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def _check_not_bootstrapping(storage: Path) -> None:
    """Refuse to open a journal while multiprocessing re-runs a main script that lacks a main guard."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError(
            f"an Optimizer with storage {str(storage)!r} is being opened while a child process starts: "
            "multiprocessing re-runs the main script in every child it spawns, and this script has no "
            "`if __name__ == \"__main__\":` guard. Put the code that builds the optimizer and runs the "
            "search under that guard.")

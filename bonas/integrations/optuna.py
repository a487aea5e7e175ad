"""``BonasSampler``: an Optuna sampler whose relative search space is a bonas space's cell.

``optuna.create_study(sampler=BonasSampler(NASBench201Space())).optimize(objective, n_trials=...)`` runs a
bonas search (a GP over the space's architecture encoding, TW by default) inside an ordinary Optuna study. The
objective suggests the cell's parameters under their fixed names, e.g. for NAS-Bench-201::

    ops = {name: trial.suggest_categorical(name, NB201_OPS) for name in NB201_PARAMS}
    arch = params_to_arch(space, ops)

and any other parameter (a learning rate, a batch size) as usual: those are drawn by the sampler's independent
sampler (``RandomSampler`` by default). The sampler owns a bonas :class:`~bonas.Optimizer`, built when it first
meets its study (the study's direction says whether bonas maximises or minimises), and keeps it in step with
the study: every finished trial is turned into a bonas outcome, whether the sampler proposed it, it was
enqueued (``study.enqueue_trial``), added (``study.add_trial``) or it came from another process or sampler.
The study is the only state: a new ``BonasSampler`` on a resumed study attaches every finished trial first.

Spaces: a space is supported when its cells are a fixed set of categorical choices: NAS-Bench-201 (six edge
ops, :data:`NB201_PARAMS`) and DARTS (per cell, each of the eight pairs' op and each intermediate node's ordered
pair of inputs). A NAS-Bench-101 or user :class:`~bonas.spaces.CellSpace` cell has a variable adjacency (pruned,
with an edge limit), and a :class:`~bonas.spaces.SubsetSpace` holds only some of its base space's cells, so no
product of categoricals describes them: :func:`cell_parameters` refuses them, naming the space.
"""

from __future__ import annotations

import math
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from itertools import permutations
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState as OptunaState

from bonas.optimizer import Optimizer
from bonas.settings import OptimizerSettings
from bonas.spaces.base import Space
from bonas.spaces.darts import CELLS, DARTS_OPS, N_INTERMEDIATE, N_PAIRS, DARTSArch, DARTSSpace
from bonas.spaces.nb201 import NB201_EDGES, NB201_OPS, NASBench201Space, NB201Arch
from bonas.trial import Trial, TrialState

NB201_PARAMS = tuple(f"edge_{edge}" for edge in range(len(NB201_EDGES)))
"""The NAS-Bench-201 cell's parameters: ``edge_k`` is the op on edge ``NB201_EDGES[k]`` (edges in the standard
string's order, (0→1), (0→2), (1→2), (0→3), (1→3), (2→3)), one of :data:`~bonas.spaces.nb201.NB201_OPS`."""
FINISHED = (OptunaState.COMPLETE, OptunaState.PRUNED, OptunaState.FAIL)
"""The Optuna trial states the sampler turns into bonas outcomes."""
__all__ = ["NB201_PARAMS", "BonasSampler", "CellParameters", "arch_to_params", "cell_parameters", "params_to_arch"]


class CellParameters(ABC):
    """A space's cells as a fixed set of named Optuna categorical parameters, and the translation both ways."""

    space: Space

    @property
    @abstractmethod
    def distributions(self) -> dict[str, CategoricalDistribution]:
        """Every cell parameter's name and distribution, in a fixed order."""

    @abstractmethod
    def _cell(self, values: Sequence[Any]) -> Any:
        """The architecture of the values of :attr:`distributions`, in its order (each among its choices)."""

    @abstractmethod
    def to_params(self, arch: Any) -> dict[str, Any]:
        """The parameters of a valid ``arch`` of :attr:`space`."""

    def to_arch(self, params: Mapping[str, Any]) -> Any:
        """The architecture of ``params`` (other keys ignored); ``ValueError`` naming a missing parameter or a
        value outside its choices."""
        values = []
        for name, distribution in self.distributions.items():
            if name not in params:
                raise ValueError(f"parameter {name!r} is missing; a {self.space.name} cell needs "
                                 f"{list(self.distributions)}")
            if params[name] not in distribution.choices:
                raise ValueError(f"unknown value {params[name]!r} for parameter {name!r}; expected one of "
                                 f"{list(distribution.choices)}")
            values.append(params[name])
        arch = self._cell(values)
        self.space.validate(arch)
        return arch


class NB201Parameters(CellParameters):
    """NAS-Bench-201: one categorical per edge, :data:`NB201_PARAMS`, each over :data:`NB201_OPS`."""

    def __init__(self, space: NASBench201Space) -> None:
        self.space = space
        self._distributions = {name: CategoricalDistribution(NB201_OPS) for name in NB201_PARAMS}

    @property
    def distributions(self) -> dict[str, CategoricalDistribution]:
        return dict(self._distributions)

    def _cell(self, values: Sequence[Any]) -> NB201Arch:
        return NB201Arch(tuple(values))

    def to_params(self, arch: NB201Arch) -> dict[str, str]:
        self.space.validate(arch)
        return dict(zip(NB201_PARAMS, arch.ops))


class DARTSParameters(CellParameters):
    """DARTS: per cell (``normal``, ``reduce``), ``{cell}_op_{p}`` the op of pair ``p`` (0..7, over
    :data:`~bonas.spaces.darts.DARTS_OPS`) and ``{cell}_inputs_{n}`` the ordered inputs ``"i,j"`` of
    intermediate node ``n`` (2..5; pair ``2(n-2)`` reads node ``i``, pair ``2(n-2)+1`` node ``j``, ``i != j``,
    both earlier nodes)."""

    def __init__(self, space: DARTSSpace) -> None:
        self.space = space
        self._distributions: dict[str, CategoricalDistribution] = {}
        for cell in CELLS:
            for pair in range(N_PAIRS):
                self._distributions[f"{cell}_op_{pair}"] = CategoricalDistribution(DARTS_OPS)
            for node in range(2, N_INTERMEDIATE + 2):
                inputs = [f"{first},{second}" for first, second in permutations(range(node), 2)]
                self._distributions[f"{cell}_inputs_{node}"] = CategoricalDistribution(inputs)

    @property
    def distributions(self) -> dict[str, CategoricalDistribution]:
        return dict(self._distributions)

    def _cell(self, values: Sequence[Any]) -> DARTSArch:
        per_cell = N_PAIRS + N_INTERMEDIATE
        cells = []
        for index in range(len(CELLS)):
            ops = values[index * per_cell:index * per_cell + N_PAIRS]
            inputs = [int(node) for text in values[index * per_cell + N_PAIRS:(index + 1) * per_cell]
                      for node in text.split(",")]
            cells.append(tuple(zip(ops, inputs)))
        return DARTSArch(*cells)

    def to_params(self, arch: DARTSArch) -> dict[str, str]:
        self.space.validate(arch)
        params = {}
        for cell in CELLS:
            pairs = getattr(arch, cell)
            params.update({f"{cell}_op_{pair}": op for pair, (op, _) in enumerate(pairs)})
            params.update({f"{cell}_inputs_{node}": f"{pairs[2 * node - 4][1]},{pairs[2 * node - 3][1]}"
                           for node in range(2, N_INTERMEDIATE + 2)})
        return params


PARAMETERISATIONS: dict[type[Space], Callable[[Any], CellParameters]] = {
    NASBench201Space: NB201Parameters,
    DARTSSpace: DARTSParameters,
}
"""The spaces whose cells are a fixed set of categorical choices, and how each is parameterised."""


def cell_parameters(space: Space) -> CellParameters:
    """The Optuna parameterisation of ``space``'s cells; ``ValueError`` naming a space that has none."""
    for space_type, parameterisation in PARAMETERISATIONS.items():
        if isinstance(space, space_type):
            return parameterisation(space)
    raise ValueError(f"space {space.name!r} ({type(space).__name__}) has no fixed parameterisation as Optuna "
                     f"categorical parameters (a NAS-Bench-101 or CellSpace cell has a variable adjacency, a "
                     f"SubsetSpace only some of its base space's cells); BonasSampler supports "
                     f"{[space_type.__name__ for space_type in PARAMETERISATIONS]}")


def params_to_arch(space: Space, params: Mapping[str, Any]) -> Any:
    """The cell of a trial's ``params`` (``trial.params``, or the values an objective suggested); other keys are
    ignored. ``ValueError`` naming a missing cell parameter or a value outside its choices."""
    return cell_parameters(space).to_arch(params)


def arch_to_params(space: Space, arch: Any) -> dict[str, Any]:
    """The cell parameters of ``arch`` (e.g. for ``study.enqueue_trial``); :func:`params_to_arch` inverts it."""
    return cell_parameters(space).to_params(arch)


class BonasSampler(BaseSampler):
    """An Optuna sampler that proposes a bonas space's cells with a bonas :class:`~bonas.Optimizer`.

    :param space: the bonas space (:func:`cell_parameters` names the supported ones).
    :param encoding: the architecture encoding of bonas's GP (``"tw"``, tree-Wasserstein, by default). It and
        ``acquisition``, ``n_initial``, ``candidates``, ``pool_size``, ``outcome_transform``, ``deterministic``
        (a noise-free objective such as a table look-up), ``device``, ``feasible`` and ``checkpoint`` go to the
        Optimizer as they are (:class:`~bonas.settings.OptimizerSettings` documents them) and are checked here.
        Cells are random until ``n_initial`` trials have completed, whoever proposed them; then the GP's.
    :param seed: seeds bonas and the default independent sampler; ``None`` draws one (as Optuna's samplers do).
        The same seed and the same values give the same cells.
    :param independent_sampler: samples every parameter outside the cell (default
        ``RandomSampler(seed=seed)``); its ``before_trial`` / ``after_trial`` hooks are called too.

    How Optuna trials become bonas outcomes (in :meth:`after_trial` for this process's trials, and before each
    proposal for any finished trial not yet seen, e.g. one of another process or added with ``study.add_trial``):

    - **complete**: its value (its values, with several objectives) is told to the trial bonas proposed, or, for
      a cell bonas did not propose (an enqueued or added trial, one of another sampler), attached; a cell whose
      class (``space.canonical_key``) bonas already holds is not attached twice. A trial that did not suggest
      every cell parameter adds nothing; one whose suggested cell is not the one proposed (its parameters were
      fixed or suggested elsewhere) abandons the proposal and attaches its own cell. A non-finite value is
      told as failed.
    - **pruned**: told as failed (``info["optuna_state"] = "PRUNED"`` with its last intermediate value), so
      bonas never proposes that cell again and its GP never sees the value. The GP models the final objective;
      an intermediate value is a lower fidelity (a 12-epoch accuracy beside 200-epoch ones) and would drag the
      cell's look-alikes down for the wrong reason, while the pruner already judged the cell not worth finishing.
    - **failed**: told as failed, the same as a failed evaluation in bonas (not proposed again).

    A proposal whose trial ended before it suggested the whole cell (it failed early, or never suggests some
    cell parameters) is abandoned: bonas may propose that cell again.

    A trial that fixes any cell parameter (``study.enqueue_trial``) gets no proposal: its fixed values stand,
    the rest of the cell comes from the independent sampler.

    Several objectives (``optuna.create_study(directions=[...])``): bonas's multi-objective optimizer, one GP per
    objective, named by ``study.metric_names`` or ``objective_0``, ``objective_1``, ..., each maximised or
    minimised as the study says; asks maximise the hypervolume improvement.

    Threads (``study.optimize(..., n_jobs=k)``): one lock guards the optimizer, so proposals are made one at a
    time and each sees the others' cells as pending (never proposed twice while in flight). Processes sharing
    a storage each run their own sampler: each attaches the others' finished trials, but cannot see their
    running ones, so two processes may propose the same cell.

    A sampler serves one study (Optuna's samplers hold per-study state too); using it with another raises.
    """

    def __init__(self, space: Space, encoding: str = "tw", acquisition: str = "ei", n_initial: int = 10,
                 seed: int | None = None, deterministic: bool = False, candidates: str = "local",
                 pool_size: int = 1000, outcome_transform: str = "standardize", device: str = "auto",
                 feasible: Callable[[Any], bool] | None = None, checkpoint: str | None = None,
                 independent_sampler: BaseSampler | None = None) -> None:
        self.parameters = cell_parameters(space)
        self.space = space
        self.seed = secrets.randbelow(2**31) if seed is None else seed
        self._options = dict(encoding=encoding, acquisition=acquisition, n_initial=n_initial, seed=self.seed,
                             candidates=candidates, pool_size=pool_size, outcome_transform=outcome_transform,
                             deterministic=deterministic, checkpoint=checkpoint)
        OptimizerSettings(space=space.name, **self._options)  # refuse a bad option now, not at the first trial
        self._device, self._feasible = device, feasible
        self._independent_sampler = independent_sampler or RandomSampler(seed=self.seed)
        self._lock = threading.RLock()
        self._optimizer: Optimizer | None = None
        self._study_name: str | None = None
        self._objective_names: list[str] | None = None
        self._proposed: dict[int, Trial] = {}  # Optuna trial number -> the bonas trial proposed for it
        self._seen: set[int] = set()  # Optuna trial numbers already turned into bonas outcomes

    @property
    def optimizer(self) -> Optimizer | None:
        """The bonas optimizer, ``None`` until the sampler first meets its study."""
        return self._optimizer

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        """The cell's parameters (:attr:`CellParameters.distributions`), whatever the study has seen."""
        return dict(self.parameters.distributions)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """A cell proposed by bonas, as parameters; none when ``trial`` fixes a cell parameter."""
        with self._lock:
            optimizer = self._bind(study)
            self._catch_up(study)
            if set(trial.system_attrs.get("fixed_params", {})) & set(search_space):
                return {}
            proposed = optimizer.ask(1)[0]
            self._proposed[trial.number] = proposed
            return {name: value for name, value in self.parameters.to_params(proposed.arch).items()
                    if name in search_space}

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        """A parameter outside the cell (or a cell parameter left out of the proposal), by the independent
        sampler."""
        return self._independent_sampler.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent_sampler.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: OptunaState,
                    values: Sequence[float] | None) -> None:
        """Tell bonas how ``trial`` ended (see the class docstring); then the independent sampler's hook."""
        with self._lock:
            self._bind(study)
            self._record(trial, state, values)
        self._independent_sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        """Reseed the independent sampler; bonas's proposals stay a function of ``seed`` and the results."""
        self._independent_sampler.reseed_rng()

    def _bind(self, study: Study) -> Optimizer:
        """The optimizer of ``study``, built on first use with the study's directions."""
        if self._optimizer is not None:
            if study.study_name != self._study_name:
                raise RuntimeError(f"this BonasSampler serves study {self._study_name!r}; make a new one for "
                                   f"study {study.study_name!r}")
            return self._optimizer
        directions = ["max" if direction == StudyDirection.MAXIMIZE else "min" for direction in study.directions]
        objectives = None
        if len(directions) > 1:
            self._objective_names = list(study.metric_names or
                                         [f"objective_{index}" for index in range(len(directions))])
            objectives = dict(zip(self._objective_names, directions))
        self._optimizer = Optimizer(self.space, maximize=directions[0] == "max", objectives=objectives,
                                    device=self._device, feasible=self._feasible, **self._options)
        self._study_name = study.study_name
        return self._optimizer

    def _catch_up(self, study: Study) -> None:
        """Turn every finished trial of ``study`` not yet seen into a bonas outcome, in trial order."""
        for trial in study.get_trials(deepcopy=False, states=FINISHED):
            if trial.number not in self._seen:
                self._record(trial, trial.state, trial.values)

    def _record(self, trial: FrozenTrial, state: OptunaState, values: Sequence[float] | None) -> None:
        if trial.number in self._seen or state not in FINISHED:
            return
        self._seen.add(trial.number)
        optimizer = self._optimizer
        info = {"optuna_trial": trial.number}
        arch = self._cell_of(trial)
        proposed = self._proposed.pop(trial.number, None)
        if proposed is not None and (arch is None
                                     or self.space.canonical_key(arch) != self.space.canonical_key(proposed.arch)):
            optimizer.tell(proposed, state="abandoned", info={**info, "reason": "the trial used another cell"})
            proposed = None
        complete = state == OptunaState.COMPLETE and values is not None and all(map(math.isfinite, values))
        if not complete:
            if proposed is not None:
                if state == OptunaState.PRUNED:
                    steps = trial.intermediate_values
                    info["last_intermediate_value"] = steps[max(steps)] if steps else None
                optimizer.tell(proposed, state="failed", info={**info, "optuna_state": state.name})
            return
        told = values[0] if self._objective_names is None else dict(zip(self._objective_names, values))
        if proposed is not None:
            optimizer.tell(proposed, told, info=info)
        elif arch is not None and not self._holds(arch):
            optimizer.attach(arch, told, info=info)

    def _cell_of(self, trial: FrozenTrial) -> Any:
        """The cell ``trial`` suggested, ``None`` if it did not suggest every cell parameter; ``ValueError`` when
        the study's distribution of a cell parameter is not the cell's."""
        expected = self.parameters.distributions
        for name, distribution in trial.distributions.items():
            if name in expected and distribution != expected[name]:
                raise ValueError(f"trial {trial.number} suggested cell parameter {name!r} as {distribution}; "
                                 f"BonasSampler's {self.space.name} cell expects {expected[name]}")
        if not set(expected) <= set(trial.params):
            return None
        return self.parameters.to_arch(trial.params)

    def _holds(self, arch: Any) -> bool:
        """Whether the optimizer holds a trial (not abandoned) of ``arch``'s class."""
        key = self.space.canonical_key(arch)
        return any(trial.state != TrialState.ABANDONED and self.space.canonical_key(trial.arch) == key
                   for trial in self._optimizer.trials)

    def __repr__(self) -> str:
        return f"BonasSampler(space={self.space!r}, encoding={self._options['encoding']!r}, seed={self.seed})"


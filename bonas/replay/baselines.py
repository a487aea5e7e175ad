"""The baselines a replay runs beside bonas: random search, regularized evolution, local search, BANANAS.

Each baseline maximises, follows the replay :class:`~bonas.replay.strategies.Strategy`
protocol, is built as ``Cls(space, seed, **options)`` (``feasible=`` restricts it to feasible architectures)
and never proposes an
architecture computationally equivalent (same :meth:`Space.canonical_key`) to
one it proposed before, the rule bonas's optimizer follows too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from bonas.encoders import PathEncoder
from bonas.spaces.base import Space
from bonas.validation import check_int, check_positive

MAX_DRAWS = 10_000


class Baseline:
    """What every baseline shares: a seeded generator, the proposed keys and the told history.

    With ``feasible`` (a constraint known before evaluation, ``feasible(arch) -> bool``), every proposal passes
    through it: random draws, mutations and neighbours that it rejects are never proposed.
    """

    def __init__(self, space: Space, seed: int, feasible: Callable[[Any], bool] | None = None) -> None:
        self.space = space
        self.feasible = feasible
        self.rng = np.random.default_rng(seed)
        self.history: list[tuple[Any, float]] = []
        self._proposed: set[Hashable] = set()

    def ask(self, n: int) -> list[Any]:
        """``n`` architectures never proposed before."""
        return [self._propose_one() for _ in range(n)]

    def tell(self, archs: Sequence[Any], values: Sequence[float]) -> None:
        """Report the values of proposed architectures."""
        if len(archs) != len(values):
            raise ValueError(f"got {len(archs)} architectures but {len(values)} values")
        for arch, value in zip(archs, values):
            self.history.append((arch, float(value)))
            self._observe(arch, float(value))

    def _propose_one(self) -> Any:
        raise NotImplementedError

    def _observe(self, arch: Any, value: float) -> None:
        """Update the search state with one told value (nothing by default)."""

    def _claim(self, arch: Any) -> bool:
        """Mark ``arch`` proposed; ``False`` if an equivalent one was proposed before or it is infeasible."""
        key = self.space.canonical_key(arch)
        if key in self._proposed or (self.feasible is not None and not self.feasible(arch)):
            return False
        self._proposed.add(key)
        return True

    def _random_fresh(self) -> Any:
        """A uniformly drawn architecture not proposed before (rejection sampling)."""
        for _ in range(MAX_DRAWS):
            arch = self.space.sample(1, self.rng)[0]
            if self._claim(arch):
                return arch
        raise RuntimeError(f"no unproposed{' feasible' if self.feasible else ''} architecture found in {MAX_DRAWS} "
                           "random draws; the space is exhausted")

    def _mutant_fresh(self, parent: Any, tries: int = 100) -> Any | None:
        """A mutation of ``parent`` not proposed before, or ``None`` after ``tries`` draws."""
        for _ in range(tries):
            child = self.space.mutate(parent, self.rng)
            if self._claim(child):
                return child
        return None


class RandomSearch(Baseline):
    """Uniform sampling without replacement (of computational-equivalence classes)."""

    def _propose_one(self) -> Any:
        return self._random_fresh()


class RegularizedEvolution(Baseline):
    """Regularized (aging) evolution, Real et al., AAAI 2019.

    The first ``population_size`` proposals are random; then each child is a
    mutation of the best of ``tournament_size`` members drawn from the
    population of the ``population_size`` most recently told architectures,
    whose oldest member dies when a child is told.
    """

    def __init__(self, space: Space, seed: int, population_size: int = 20, tournament_size: int = 5,
                 feasible: Callable[[Any], bool] | None = None) -> None:
        population_size = check_int(population_size, "population_size", minimum=1)
        tournament_size = check_int(tournament_size, "tournament_size", minimum=1)
        if tournament_size > population_size:
            raise ValueError(f"tournament_size ({tournament_size}) exceeds population_size ({population_size})")
        super().__init__(space, seed, feasible)
        self.population_size = population_size
        self.tournament_size = tournament_size
        self.population: deque[tuple[Any, float]] = deque(maxlen=population_size)
        self._n_proposed = 0

    def _propose_one(self) -> Any:
        self._n_proposed += 1
        if len(self.population) < self.population_size or self._n_proposed <= self.population_size:
            return self._random_fresh()
        members = self.rng.choice(len(self.population), size=self.tournament_size, replace=False)
        parent = max((self.population[i] for i in members), key=lambda member: member[1])[0]
        child = self._mutant_fresh(parent)
        return child if child is not None else self._random_fresh()

    def _observe(self, arch: Any, value: float) -> None:
        self.population.append((arch, value))


class LocalSearch(Baseline):
    """Local search, White et al., "Local search is state of the art for NAS benchmarks" (2021).

    Evaluate ``n_starts`` random architectures, climb from the best of them by
    first improvement over its unvisited neighbours (in random order), and start
    over from ``n_starts`` new random architectures at a local optimum.
    """

    def __init__(self, space: Space, seed: int, n_starts: int = 10,
                 feasible: Callable[[Any], bool] | None = None) -> None:
        n_starts = check_int(n_starts, "n_starts", minimum=1)
        super().__init__(space, seed, feasible)
        self.n_starts = n_starts
        self.center: tuple[Any, float] | None = None
        self._starts: list[tuple[Any, float]] = []
        self._queue: list[Any] = []
        self._pending = 0

    def _propose_one(self) -> Any:
        self._pending += 1
        while self.center is not None and self._queue:
            arch = self._queue.pop()
            if self._claim(arch):
                return arch
        return self._random_fresh()

    def _observe(self, arch: Any, value: float) -> None:
        self._pending -= 1
        if self.center is None:
            self._starts.append((arch, value))
            if len(self._starts) >= self.n_starts:
                self._move_to(max(self._starts, key=lambda start: start[1]))
        elif value > self.center[1]:
            self._move_to((arch, value))
        elif not self._queue and self._pending == 0:
            self._restart()

    def _move_to(self, center: tuple[Any, float]) -> None:
        self.center = center
        neighbours = self.space.neighbours(center[0])
        self._queue = [neighbours[i] for i in self.rng.permutation(len(neighbours))]
        self._queue = [arch for arch in self._queue if self.space.canonical_key(arch) not in self._proposed]
        if not self._queue and self._pending == 0:
            self._restart()

    def _restart(self) -> None:
        self.center = None
        self._starts = []


class Bananas(Baseline):
    """BANANAS, White et al., AAAI 2021: path encoding, an ensemble of MLPs, Thompson sampling over mutations.

    As the reference implementation (naszilla): ``n_init`` random
    architectures; then each round trains ``ensemble_size`` feed-forward
    networks (``n_layers`` layers of ``width`` units, Adam, L1 loss) on the
    path encodings, draws ``n_candidates`` unproposed mutations of the best
    architectures, samples each candidate's value from a normal with the
    ensemble's mean and spread (independent Thompson sampling) and proposes
    the ``per_round`` best samples. The ensemble is trained as one batched
    network (full-batch Adam) so that a 150-query replay takes seconds.
    """

    def __init__(self, space: Space, seed: int, n_init: int = 10, per_round: int = 10, ensemble_size: int = 5,
                 n_layers: int = 10, width: int = 20, epochs: int = 150, lr: float = 0.01,
                 n_candidates: int = 100, feasible: Callable[[Any], bool] | None = None) -> None:
        n_init, per_round, ensemble_size, n_layers, width, epochs, n_candidates = (
            check_int(value, name, minimum=1) for name, value in (
                ("n_init", n_init), ("per_round", per_round), ("ensemble_size", ensemble_size),
                ("n_layers", n_layers), ("width", width), ("epochs", epochs), ("n_candidates", n_candidates)))
        lr = check_positive(lr, "lr")
        super().__init__(space, seed, feasible)
        self.encoder = PathEncoder(space)
        self.n_init, self.per_round, self.ensemble_size = n_init, per_round, ensemble_size
        self.n_layers, self.width, self.epochs, self.lr = n_layers, width, epochs, lr
        self.n_candidates = n_candidates
        self.generator = torch.Generator().manual_seed(seed)
        self._queue: list[Any] = []
        self._n_proposed = 0

    def _propose_one(self) -> Any:
        self._n_proposed += 1
        if self._n_proposed <= self.n_init or len(self.history) < 2:
            return self._random_fresh()
        if not self._queue:
            self._queue = self._next_round()
        return self._queue.pop(0) if self._queue else self._random_fresh()

    def _next_round(self) -> list[Any]:
        """The ``per_round`` candidates with the best Thompson samples, best first (already claimed)."""
        candidates = self._candidates()
        if not candidates:
            return []
        X = self.encoder.encode([arch for arch, _ in self.history]).to(torch.float32)
        y = torch.tensor([value for _, value in self.history], dtype=torch.float32)
        predictions = self._fit_predict(X, y, self.encoder.encode(candidates).to(torch.float32))
        samples = self.rng.normal(predictions.mean(0).numpy(), predictions.std(0).numpy())
        chosen = np.argsort(-samples)[: self.per_round]
        chosen_keys = {self.space.canonical_key(candidates[i]) for i in chosen}
        self._proposed -= {self.space.canonical_key(arch) for arch in candidates} - chosen_keys
        return [candidates[i] for i in chosen]

    def _candidates(self) -> list[Any]:
        """Up to ``n_candidates`` unproposed mutations, of the best told architecture first."""
        ranked = [arch for arch, _ in sorted(self.history, key=lambda item: -item[1])]
        candidates: list[Any] = []
        for parent in ranked:
            for _ in range(self.n_candidates):
                child = self._mutant_fresh(parent, tries=10)
                if child is None:
                    break
                candidates.append(child)
                if len(candidates) == self.n_candidates:
                    return candidates
        return candidates

    def _fit_predict(self, X: Tensor, y: Tensor, X_candidates: Tensor) -> Tensor:
        """Train the ensemble on ``X`` (``n x d``), ``y`` (``n``); predictions ``ensemble_size x m``."""
        mean, scale = y.mean(), y.std().clamp_min(1e-6)
        target = (y - mean) / scale
        weights, biases = self._init_ensemble(X.shape[-1])
        optimizer = torch.optim.Adam([*weights, *biases], lr=self.lr)
        for _ in range(self.epochs):
            optimizer.zero_grad()
            loss = (self._forward(X, weights, biases) - target).abs().mean()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            return self._forward(X_candidates, weights, biases) * scale + mean

    def _init_ensemble(self, d: int) -> tuple[list[Tensor], list[Tensor]]:
        """Glorot-uniform weights ``ensemble_size x fan_in x fan_out`` per layer, zero biases."""
        sizes = [d, *[self.width] * self.n_layers, 1]
        weights, biases = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = (6.0 / (fan_in + fan_out)) ** 0.5
            weight = (torch.rand(self.ensemble_size, fan_in, fan_out, generator=self.generator) * 2 - 1) * bound
            weights.append(weight.requires_grad_())
            biases.append(torch.zeros(self.ensemble_size, 1, fan_out, requires_grad=True))
        return weights, biases

    @staticmethod
    def _forward(X: Tensor, weights: list[Tensor], biases: list[Tensor]) -> Tensor:
        """Every member's output on ``X`` (``n x d``): ``ensemble_size x n``."""
        hidden = X.expand(weights[0].shape[0], *X.shape)
        for layer, (weight, bias) in enumerate(zip(weights, biases)):
            hidden = torch.baddbmm(bias, hidden, weight)
            if layer < len(weights) - 1:
                hidden = torch.relu(hidden)
        return hidden.squeeze(-1)


BASELINES: dict[str, type[Baseline]] = {
    "random": RandomSearch,
    "rea": RegularizedEvolution,
    "ls": LocalSearch,
    "bananas": Bananas,
}

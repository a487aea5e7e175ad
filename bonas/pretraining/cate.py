"""Pretraining CATE as its authors do: pairs of architectures of similar cost, masked ops, cross-attention.

Architectures are sorted by cost (the space's cost model in the space registry:
FLOPs for NB201, parameters for NB101 and DARTS; the built networks' parameters or
FLOPs for any other space); each is paired with up to ``k`` cheaper
ones whose cost lies within ``window`` of its own (CATE's ``sample_from_data``).
In every batch 20 % of the op tokens of both architectures of a pair are
corrupted (80 % ``[MASK]``, 20 % a random op) and predicted from the pair, with
label-smoothed cross-entropy, AdamW and a linear warm-up then linear decay.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from bonas.device import resolve_device
from bonas.encoders.base import graph_vocabulary, max_graph_nodes
from bonas.encoders.cate.checkpoint import check_checkpoint_path, save_checkpoint
from bonas.encoders.cate.model import CATEConfig, CATEModel
from bonas.encoders.cate.tokens import MASK, SPECIAL_TOKENS, GraphTokens, Tokenizer
from bonas.pretraining.costs import network_costs
from bonas.progress import Progress
from bonas.spaces.base import Space
from bonas.spaces.registry import declared, space_names

IGNORE = -100
COST_WINDOW_FRACTION = 0.04
"""Default pairing window as a fraction of the cost range: CATE's NB101 window, 2e6 parameters,
is 4 % of NB101's range (0.23M to 50M); NB201 gets the same share of its FLOPs range."""


@dataclass
class PretrainData:
    """Tokenised architectures and their cost pairs; ``valid_pairs`` are among held-out architectures."""

    tokens: GraphTokens
    train_pairs: Tensor
    valid_pairs: Tensor
    cost_name: str
    window: float


@dataclass
class PretrainResult:
    model: CATEModel
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def space_architectures(space: Space, n_samples: int, seed: int, cost: str | None = None,
                        network_options: Mapping[str, Any] | None = None) -> tuple[list[Any], np.ndarray, str]:
    """Pretraining architectures of ``space`` and their costs: ``(archs, costs, cost name)``.

    With ``cost`` ``None`` they come from the cost model the space registry declares for ``space.name``
    (:mod:`bonas.pretraining.costs`: FLOPs of all NB201 cells, parameters of ``n_samples`` sampled NB101
    cells or DARTS genotypes). A space without one, or ``cost`` ``"params"`` / ``"flops"``, is costed on its
    built networks (:func:`~bonas.pretraining.costs.network_costs`, with ``network_options`` such as a user's
    ``op_modules``); ``ValueError`` when those cannot be built, saying why.
    """
    cost_model = declared(space.name, "cost_model") if cost is None else None
    if cost_model is None:
        try:
            return network_costs(space, n_samples, seed, cost or "params", network_options)
        except (ValueError, RuntimeError, TypeError) as error:
            why = (f"has no cost model in the space registry (those with one: {list(space_names('cost_model'))}) "
                   f"and" if cost is None else f"is costed by its networks' {cost}, but")
            raise ValueError(f"pretraining CATE needs a cost per architecture: space {space.name!r} {why} its "
                             f"networks cannot be built to count their cost: {error}") from None
    archs, costs, cost_name = cost_model(space, n_samples, seed)
    return list(archs), np.asarray(costs, dtype=np.float64), cost_name


def check_window(window: float) -> float:
    """``window`` if it is a positive cost difference, else ``ValueError``."""
    if not window > 0:
        raise ValueError(f"the cost window must be positive, got {window}")
    return window


def cost_pairs(costs: np.ndarray, k: int, window: float, rng: np.random.Generator) -> np.ndarray:
    """``m x 2`` index pairs: each architecture with up to ``k`` cheaper ones within ``window`` of its cost."""
    order = np.argsort(costs, kind="stable")
    sorted_costs = costs[order]
    heads = np.searchsorted(sorted_costs, sorted_costs - window, side="left")
    pairs = []
    for i, head in enumerate(heads):
        if i == head:
            continue
        partners = np.arange(head, i) if i - head <= k else rng.choice(np.arange(head, i), size=k, replace=False)
        pairs.extend((order[i], order[j]) for j in partners)
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def prepare_data(space: Space, archs: Sequence[Any], costs: np.ndarray, cost_name: str, *, k: int = 2,
                 window: float | None = None, valid_fraction: float = 0.05, seed: int = 0) -> PretrainData:
    """Tokenise ``archs``, hold out ``valid_fraction`` of them, pair each part by cost."""
    if len(archs) != len(costs) or len(archs) < 4:
        raise ValueError(f"need at least 4 architectures with one cost each, got {len(archs)} and {len(costs)}")
    if k < 1:
        raise ValueError(f"k must be a positive number of partners, got {k}")
    window = check_window(COST_WINDOW_FRACTION * float(np.ptp(costs)) if window is None else float(window))
    tokenizer = Tokenizer(graph_vocabulary(space), max_graph_nodes(space))
    tokens = tokenizer([space.to_graph(arch) for arch in archs])
    rng = np.random.default_rng(seed)
    held_out = rng.permutation(len(archs))
    n_valid = max(2, int(round(valid_fraction * len(archs))))
    parts = []
    for rows in (np.sort(held_out[n_valid:]), np.sort(held_out[:n_valid])):
        parts.append(torch.from_numpy(rows[cost_pairs(costs[rows], k, window, rng)]))
    return PretrainData(tokens, parts[0], parts[1], cost_name, window)


def corrupt(tokens: Tensor, n_specials: int, n_tokens: int, rate: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Corrupt ``rate`` of the op tokens (not input, output or padding) of ``n x L`` tokens.

    :returns: the corrupted tokens and the labels (the original op where corrupted, ``-100`` elsewhere).
    """
    is_op = tokens >= n_specials + 1
    is_op &= tokens != n_tokens - 1
    chosen = is_op & (torch.rand(tokens.shape, generator=generator) < rate)
    labels = torch.where(chosen, tokens, torch.full_like(tokens, IGNORE))
    random_ops = torch.randint(n_specials + 1, n_tokens - 1, tokens.shape, generator=generator)
    masked = torch.rand(tokens.shape, generator=generator) < 0.8
    replaced = torch.where(masked, torch.full_like(tokens, MASK), random_ops)
    return torch.where(chosen, replaced, tokens), labels


def _pair_loss(model: CATEModel, data: PretrainData, pairs: Tensor, rate: float, generator: torch.Generator,
               device: torch.device, label_smoothing: float) -> tuple[Tensor, int, int]:
    """Summed loss, number of predicted tokens and number predicted right for a batch of pairs."""
    n_tokens = model.config.n_tokens
    batches, labels = [], []
    for column in (0, 1):
        part = data.tokens.index(pairs[:, column])
        corrupted, label = corrupt(part.tokens, len(SPECIAL_TOKENS), n_tokens, rate, generator)
        batches.append(GraphTokens(corrupted, part.attention, part.lengths).to(device))
        labels.append(label)
    target = torch.cat(labels, dim=1).to(device)
    logits = model(*batches)
    loss = F.cross_entropy(logits.reshape(-1, n_tokens), target.reshape(-1), ignore_index=IGNORE,
                           label_smoothing=label_smoothing, reduction="sum")
    predicted = target != IGNORE
    correct = int((logits.argmax(-1)[predicted] == target[predicted]).sum())
    return loss, int(predicted.sum()), correct


def pretrain(data: PretrainData, config: CATEConfig, *, epochs: int = 10, batch_size: int = 1024,
             lr: float = 1e-3, weight_decay: float = 0.01, warmup_steps: int = 100, mask_rate: float = 0.2,
             label_smoothing: float = 0.1, seed: int = 0, device: str | torch.device = "auto",
             progress: bool = True) -> PretrainResult:
    """Train a :class:`CATEModel` on ``data``; returns it in eval mode with per-epoch losses.

    The warm-up is ``warmup_steps`` (CATE's 100) or a tenth of all steps, whichever is fewer.

    :param device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
    :param progress: show the steps done, epoch and training loss (:class:`bonas.progress.Progress`: a rich bar
        in a terminal, a plain line every ``BONAS_PROGRESS_INTERVAL`` seconds in a log).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}")
    if len(data.train_pairs) == 0:
        raise ValueError("no training pairs: widen the cost window or add architectures")
    device = resolve_device(device)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = CATEModel(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(data.train_pairs) / batch_size)
    total_steps = epochs * steps_per_epoch
    warmup_steps = min(warmup_steps, max(1, total_steps // 10))

    def schedule(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    result = PretrainResult(model)
    began = time.perf_counter()
    with Progress("pretrain CATE steps", total_steps, enabled=progress) as bar:
        for epoch in range(epochs):
            model.train()
            order = data.train_pairs[torch.randperm(len(data.train_pairs), generator=generator)]
            seen = total = 0.0
            for start in range(0, len(order), batch_size):
                loss, n_predicted, _ = _pair_loss(model, data, order[start:start + batch_size], mask_rate,
                                                  generator, device, label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                (loss / max(1, n_predicted)).backward()
                optimizer.step()
                scheduler.step()
                seen, total = seen + n_predicted, total + float(loss.detach())
                bar.update(advance=1, status=f"epoch {epoch + 1}/{epochs}, loss {total / max(1.0, seen):.3f}")
            result.history.append({"epoch": epoch + 1, "train_loss": total / max(1.0, seen),
                                   **evaluate(model, data, mask_rate, seed, device, label_smoothing, batch_size)})
    model.eval()
    result.seconds = time.perf_counter() - began
    return result


@torch.no_grad()
def evaluate(model: CATEModel, data: PretrainData, mask_rate: float, seed: int, device: torch.device,
             label_smoothing: float, batch_size: int) -> dict[str, float]:
    """Validation loss per predicted token and masked-op accuracy on the held-out pairs (fixed corruption)."""
    model.eval()
    generator = torch.Generator().manual_seed(seed + 1)
    total = seen = correct = 0.0
    for start in range(0, len(data.valid_pairs), batch_size):
        loss, n_predicted, n_correct = _pair_loss(model, data, data.valid_pairs[start:start + batch_size],
                                                  mask_rate, generator, device, label_smoothing)
        total, seen, correct = total + float(loss), seen + n_predicted, correct + n_correct
    return {"valid_loss": total / max(1.0, seen), "valid_accuracy": correct / max(1.0, seen)}


def pretrain_space(space: Space, out: str | Path, *, n_samples: int = 200_000, k: int = 2,
                   window: float | None = None, config: dict[str, int | float] | None = None,
                   command: str | None = None, seed: int = 0, cost: str | None = None,
                   network_options: Mapping[str, Any] | None = None, **options: Any) -> tuple[PretrainResult, Path]:
    """Pretrain on ``space``'s own architectures and write the checkpoint ``out`` (``.pt`` plus ``.json``).

    Sizes, the window and the path are checked before any data is prepared.

    :param n_samples: architectures sampled where the space is not enumerated (all but NB201).
    :param cost, network_options: how architectures are costed (see :func:`space_architectures`).
    :param config: :class:`CATEConfig` sizes other than the vocabulary's.
    :param options: passed to :func:`pretrain` (``epochs``, ``batch_size``, ``lr``, ``device``, ...).
    :returns: the training result and the checkpoint's JSON path.
    """
    began = time.perf_counter()
    tokenizer = Tokenizer(graph_vocabulary(space), max_graph_nodes(space))
    model_config = CATEConfig(n_tokens=tokenizer.n_tokens, max_nodes=tokenizer.max_nodes, **(config or {}))
    check_checkpoint_path(out)
    if window is not None:
        check_window(window)
    archs, costs, cost_name = space_architectures(space, n_samples, seed, cost, network_options)
    data = prepare_data(space, archs, costs, cost_name, k=k, window=window, seed=seed)
    result = pretrain(data, model_config, seed=seed, **options)
    training = {
        "command": command, "seed": seed, "architectures": len(archs), "cost": cost_name, "window": data.window,
        "k": k, "train_pairs": len(data.train_pairs), "valid_pairs": len(data.valid_pairs),
        "options": {name: str(value) for name, value in options.items()}, "train_seconds": round(result.seconds, 1),
        "total_seconds": round(time.perf_counter() - began, 1), "torch": torch.__version__,
        "device": str(next(result.model.parameters()).device), "history": result.history,
    }
    return result, save_checkpoint(out, result.model.cpu(), space, training)

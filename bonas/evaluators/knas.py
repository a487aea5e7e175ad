"""KNAS: score an untrained network by the mean of the Gram matrix of its per-example gradients.

Xu et al., "KNAS: Green Neural Architecture Search" (ICML 2021), the gradient
kernel hypothesis: for ``n`` inputs with per-example gradients ``g_i`` of the
cross-entropy loss with respect to the network's parameters, the Gram matrix
is ``G_ij = g_i . g_j`` (``n x n``) and the score, the MGM, is its mean (higher
is better). Since ``mean(G) = |mean_i g_i|^2``, the score is computed from one
backward pass of the mean loss; :func:`gradient_gram` forms ``G`` itself.

Followed from the authors' code (github.com/Jingjing-NLP/KNAS): in
``exps/NAS-Bench-201/functions.py`` (``procedure``) the freshly initialised
network (no optimiser step is taken) is in training mode and each gradient is
that of ``torch.nn.CrossEntropyLoss`` on the true label (``Softmax`` criterion,
``lib/procedures/optimizers.py``) of a batch of one image
(``configs/nas-benchmark/CIFAR.config``: ``batch_size`` 1), so batch norm
normalises every image by its own statistics; gradients are not normalised,
and ``cifar10.py`` ranks by the raw score, highest first. As there, each image
is its own batch of one here (batch norm without running statistics, under
``torch.func.vmap``). Not followed: the authors keep the first 100 entries of
the first 11 parameter tensors with at least 50 entries, over 50 images, and
sum, over the first 50 of those entries, the products of centred gradients of
image ``k`` and image ``k + 25``, a statistic that is not the Gram mean (the
commented-out alternative there, ``|mean_i g_i|^2`` of one tensor's entries,
is). We take the paper's definition: every trainable parameter, the whole
batch, the mean of ``G``. ``benchmarks/bench_knas.py`` measures both choices.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, replace_all_batch_norm_modules_, vmap
from torch.nn import functional as F

from bonas.evaluators.data import ArrayData, CIFAR10Folder, as_image_data, image_shape
from bonas.evaluators.zero_cost import ZeroCostEvaluator
from bonas.spaces.base import Space
from bonas.validation import check_int


def knas_score(network: nn.Module, images: Tensor, labels: Tensor) -> float:
    """The mean of the ``n x n`` per-example gradient Gram matrix for ``images`` (``n x ...``) and ``labels`` (``n``).

    Each image goes through ``network`` alone, in training mode (see
    :func:`per_example_gradients`); ``network`` itself is not changed. The
    squares are summed in float64.
    """
    alone = _one_at_a_time(network)
    params = [param for param in alone.parameters() if param.requires_grad]
    # vmap, not a loop over batches of one: the same per-image batch norm in one batched pass (about 35 times
    # faster for an NB201 network on 128 digits); vmap accepts batch norm once its running statistics are gone.
    logits = vmap(lambda image: alone(image.unsqueeze(0)).squeeze(0))(images)
    grads = torch.autograd.grad(F.cross_entropy(logits, labels), params, allow_unused=True)
    return float(sum(gradient.double().square().sum() for gradient in grads if gradient is not None))


def per_example_gradients(network: nn.Module, images: Tensor, labels: Tensor,
                          names: Iterable[str] | None = None) -> dict[str, Tensor]:
    """The gradient of each example's cross-entropy loss: ``{name: n x *param.shape}``.

    Example ``i`` is ``network``'s batch of one, ``images[i : i + 1]`` with
    ``labels[i : i + 1]``, in training mode, so batch norm normalises it by its
    own statistics (as the KNAS authors' batch size of 1 does); ``network``
    itself is not changed.

    :param names: the parameters to differentiate (default: every trainable one), as ``named_parameters`` names.
    """
    alone = _one_at_a_time(network)
    trainable = {name: param.detach() for name, param in alone.named_parameters() if param.requires_grad}
    wanted = list(trainable) if names is None else list(names)
    unknown = [name for name in wanted if name not in trainable]
    if unknown:
        raise ValueError(f"unknown parameters {unknown}; expected trainable parameters of the network, e.g. "
                         f"{list(trainable)[:3]}")

    frozen = {name: param for name, param in trainable.items() if name not in wanted}

    def loss(params: dict[str, Tensor], image: Tensor, label: Tensor) -> Tensor:
        logits = functional_call(alone, {**frozen, **params}, (image.unsqueeze(0),))
        return F.cross_entropy(logits, label.unsqueeze(0))

    return vmap(grad(loss), in_dims=(None, 0, 0))({name: trainable[name] for name in wanted}, images, labels)


def gradient_gram(network: nn.Module, images: Tensor, labels: Tensor) -> Tensor:
    """``G_ij = g_i . g_j`` (``n x n``, float64) over all trainable parameters; ``knas_score`` is its mean."""
    gradients = per_example_gradients(network, images, labels)
    gram = torch.zeros(len(images), len(images), dtype=torch.float64, device=images.device)
    for per_example in gradients.values():
        flat = per_example.flatten(1).double()
        gram += flat @ flat.T
    return gram


def _one_at_a_time(network: nn.Module) -> nn.Module:
    """A copy of ``network`` in training mode whose batch norms keep no running statistics.

    Under ``vmap`` each example is then normalised by its own statistics, and no
    in-place update of a running mean meets a batched tensor (which ``vmap`` refuses).
    """
    return replace_all_batch_norm_modules_(copy.deepcopy(network)).train()


class KNAS(ZeroCostEvaluator):
    """A picklable ``arch -> dict``: ``value`` (the KNAS score), ``params``, ``time_s`` and ``device``.

    Scores the untrained network of each architecture on one fixed batch of
    ``batch_size`` labelled images drawn (seeded) from ``data``, the same batch
    :class:`~bonas.evaluators.NASWOT` draws for the same ``data`` and ``seed``.
    A score that is not finite raises ``ValueError``, so a search records a
    failed trial.

    :param data: an ``(images, labels)`` pair of arrays or tensors, a :class:`~bonas.evaluators.CIFAR10Folder`
        or a torch ``Dataset`` of ``(c x h x w image, label)`` items (the loss needs labels).
    :param seed: seeds the batch and the networks' initialisation.
    :param num_classes: size of the networks' linear head; every label of the batch must be below it.
    :param network_options: the network builder's other options (e.g. ``op_modules`` for a user's cell space;
        not DARTS's training-only ``auxiliary`` head or ``drop_path_prob``).
    """

    def __init__(self, data: Any, space: Space | None = None, batch_size: int = 128, seed: int = 0,
                 device: str = "auto", num_classes: int = 10, channels: int | None = None,
                 cells_per_stage: int | None = None, num_threads: int | None = None,
                 network_options: Mapping[str, Any] | None = None) -> None:
        batch_size = check_int(batch_size, "batch_size", minimum=2)
        num_classes = check_int(num_classes, "num_classes", minimum=2)
        num_threads = None if num_threads is None else check_int(num_threads, "num_threads", minimum=1)
        if isinstance(data, (np.ndarray, Tensor)):
            raise TypeError(f"KNAS needs labels: data must be an (images, labels) pair, a CIFAR10Folder or a torch "
                            f"Dataset, got a {type(data).__name__} of images alone")
        refused = sorted(name for name in ("auxiliary", "drop_path_prob") if (network_options or {}).get(name))
        if refused:
            raise ValueError(f"KNAS takes per-example gradients of the network's logits under torch.func.vmap: "
                             f"it scores networks without {refused} (an auxiliary head's second output, drop path's "
                             f"random masks); leave them out of network_options")
        data = as_image_data(data, "data")
        picks = self._set_up(data, space, batch_size, seed, device, num_classes, channels, cells_per_stage,
                             num_threads, network_options)
        self._check_one_at_a_time(image_shape(data))
        self.images, self.labels = _batch(data, picks)
        if int(self.labels.max()) >= num_classes:
            raise ValueError(f"data has label {int(self.labels.max())}, outside 0 .. {num_classes - 1} for "
                             f"num_classes {num_classes}")

    def _score(self, network: nn.Module, device: torch.device) -> float:
        return knas_score(network, self.images.to(device), self.labels.to(device))

    def _not_finite(self, score: float) -> str:
        return f"KNAS score is not finite ({score}): the network's gradients overflowed"

    def _check_one_at_a_time(self, shape: tuple[int, int, int]) -> None:
        """Raise ``ValueError`` unless one image alone goes through the space's networks in training mode.

        A batch norm over a single value per channel (e.g. 4 x 4 NB201 inputs,
        1 x 1 after two reductions) cannot normalise; checked on the ``meta`` device.
        """
        arch = self.space.sample(1, np.random.default_rng(0))[0]
        with torch.device("meta"):
            network = _one_at_a_time(self.build(arch))
            try:
                network(torch.zeros(1, *shape))
            except (RuntimeError, ValueError) as error:
                raise ValueError(f"images of shape {tuple(shape)} cannot go through {self.space.name} networks one "
                                 f"at a time, as KNAS scores them: {error}") from None


def _batch(data: Any, picks: np.ndarray) -> tuple[Tensor, Tensor]:
    """The ``len(picks) x c x h x w`` images and ``len(picks)`` int64 labels at ``picks``."""
    if isinstance(data, CIFAR10Folder):
        data = data.load()
    if isinstance(data, ArrayData):
        indices = torch.from_numpy(picks)
        return data.x[indices].clone(), data.y[indices].clone()
    items = [data[int(index)] for index in picks]
    labels = torch.tensor([int(torch.as_tensor(label)) for _, label in items], dtype=torch.int64)
    if int(labels.min()) < 0:
        raise ValueError(f"data labels must be 0 .. num_classes - 1, got {int(labels.min())}")
    return torch.stack([torch.as_tensor(image).float() for image, _ in items]), labels

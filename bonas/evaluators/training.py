"""``TrainingEvaluator``: train an architecture's network and report its validation accuracy.

NAS-Bench-201's recipe by default: SGD with Nesterov momentum 0.9, weight
decay 5e-4 and a cosine learning rate (to 0, stepped every batch), cross
entropy, no warm-up. On CUDA the forward pass runs under ``torch.autocast``
(float16 with a gradient scaler) unless ``amp=False``; the CPU trains in
float32. A diverged run (a non-finite training loss) raises
``FloatingPointError``, which a backend records as a failed trial.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from bonas.device import resolve_device
from bonas.evaluators.data import (ImageData, as_image_data, augment, batches, image_shape, labels_of, n_batches,
                                  resident)
from bonas.networks import build_network, check_input, count_params
from bonas.spaces.base import Space
from bonas.spaces.nb201 import NASBench201Space
from bonas.validation import check_int, check_positive


class TrainingEvaluator:
    """A picklable ``arch -> dict``: ``value`` (validation accuracy, %), ``train_loss``, ``train_time_s``,
    ``params`` (a count), ``epochs``, ``device`` and ``amp``.

    :param train_data, val_data: ``(images, labels)`` arrays or tensors (``n x c x h x w``, ``n``), a
        :class:`~bonas.evaluators.CIFAR10Folder` or a torch ``Dataset`` of ``(image, label)``.
    :param num_classes: default: the largest label + 1 (needed for a ``Dataset``).
    :param device: ``"auto"`` (CUDA when the evaluating process has it), ``"cpu"``, ``"cuda"``, ...
    :param amp: ``"auto"``/``True``: mixed precision on CUDA; ``False``: float32 everywhere.
    :param seed: seeds initialisation, shuffling and augmentation: the same seed gives the same
        accuracy on the CPU (cuDNN may add tiny differences on a GPU).
    :param space: the architectures' space (default NAS-Bench-201).
    :param augment: random crops and flips (as NB201 on CIFAR); off by default.
    :param channels, cells_per_stage: network size (see :func:`~bonas.networks.build_network`).
    :param num_threads: ``torch.set_num_threads`` in the evaluating process (useful with several workers).
    """

    def __init__(self, train_data: Any, val_data: Any, epochs: int = 12, batch_size: int = 256, lr: float = 0.1,
                 device: str = "auto", amp: bool | str = "auto", seed: int = 0, space: Space | None = None,
                 num_classes: int | None = None, momentum: float = 0.9, weight_decay: float = 5e-4,
                 augment: bool = False, channels: int | None = None, cells_per_stage: int | None = None,
                 num_threads: int | None = None) -> None:
        epochs = check_int(epochs, "epochs", minimum=1)
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        num_threads = None if num_threads is None else check_int(num_threads, "num_threads", minimum=1)
        lr = check_positive(lr, "lr")
        if amp not in ("auto", True, False):
            raise ValueError(f"amp must be 'auto', True or False, got {amp!r}")
        self.train_data: ImageData = as_image_data(train_data, "train_data")
        if len(self.train_data) < 2:
            raise ValueError(f"train_data needs at least 2 images (batch norm), got {len(self.train_data)}")
        self.val_data: ImageData = as_image_data(val_data, "val_data")
        self.image_shape = image_shape(self.train_data)
        if image_shape(self.val_data) != self.image_shape:
            raise ValueError(f"val_data images are {image_shape(self.val_data)}, train_data images "
                             f"{self.image_shape}: they must match")
        self.num_classes = _check_classes(num_classes, self.train_data, self.val_data)
        self.space = space if space is not None else NASBench201Space()
        self.network_options = {"channels": channels, "cells_per_stage": cells_per_stage}
        check_input(self.space, self.image_shape, self.num_classes, **self.network_options)
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr
        self.momentum, self.weight_decay, self.augment = momentum, weight_decay, augment
        self.device, self.amp, self.seed, self.num_threads = device, amp, seed, num_threads

    def build(self, arch: Any) -> nn.Module:
        """The untrained network of ``arch`` for this data."""
        return build_network(self.space, arch, self.num_classes, self.image_shape[0], **self.network_options)

    def __call__(self, arch: Any) -> dict[str, Any]:
        if self.num_threads is not None:
            torch.set_num_threads(self.num_threads)
        device = resolve_device(self.device)
        use_amp = device.type == "cuda" and self.amp is not False
        torch.manual_seed(self.seed)
        network = self.build(arch).to(device)
        train_data, val_data = resident(self.train_data, device), resident(self.val_data, device)
        optimizer = torch.optim.SGD(network.parameters(), lr=self.lr, momentum=self.momentum, nesterov=True,
                                    weight_decay=self.weight_decay)
        total_steps = self.epochs * n_batches(train_data, self.batch_size)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / total_steps)))
        scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
        generator = torch.Generator().manual_seed(self.seed)
        start = time.perf_counter()
        for epoch in range(1, self.epochs + 1):
            network.train()
            loss_sum, seen = torch.zeros((), device=device), 0
            for x, y in batches(train_data, self.batch_size, device, generator):
                if self.augment:
                    x = augment(x, generator)
                with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                    loss = nn.functional.cross_entropy(network(x), y)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                schedule.step()
                loss_sum += loss.detach().float() * len(y)
                seen += len(y)
            train_loss = loss_sum.item() / seen
            if not math.isfinite(train_loss):
                raise FloatingPointError(f"training diverged: mean training loss {train_loss} in epoch {epoch} of "
                                         f"{self.epochs} (lr {self.lr}); try a smaller lr")
        train_time_s = time.perf_counter() - start
        return {"value": accuracy(network, val_data, self.batch_size, device, use_amp), "train_loss": train_loss,
                "train_time_s": train_time_s, "params": count_params(network), "epochs": self.epochs,
                "device": str(device), "amp": use_amp}


@torch.no_grad()
def accuracy(network: nn.Module, data: ImageData, batch_size: int, device: torch.device,
             use_amp: bool = False) -> float:
    """Top-1 accuracy (%) of ``network`` (in eval mode) over ``data``."""
    network.eval()
    correct, seen = torch.zeros((), device=device), 0
    for x, y in batches(data, batch_size, device):
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            correct += (network(x).argmax(dim=1) == y).sum()
        seen += len(y)
    return 100.0 * correct.item() / seen


def _check_classes(num_classes: int | None, train_data: ImageData, val_data: ImageData) -> int:
    """``num_classes``, or the largest label + 1; ``ValueError`` for a label outside ``0 .. num_classes - 1``."""
    labelled = (("train_data", labels_of(train_data)), ("val_data", labels_of(val_data)))
    found = {name: int(labels.max()) + 1 for name, labels in labelled if labels is not None}
    if num_classes is None:
        if "train_data" not in found:
            if not hasattr(train_data, "num_labels"):
                raise ValueError("num_classes is needed when train_data is a Dataset")
            found["train_data"] = train_data.num_labels
        num_classes = found["train_data"]
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    for name, labels in found.items():
        if labels > num_classes:
            raise ValueError(f"{name} has label {labels - 1}, outside 0 .. {num_classes - 1} for {num_classes} classes")
    return num_classes

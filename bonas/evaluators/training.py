"""``TrainingEvaluator``: train an architecture's network and report its validation accuracy.

NAS-Bench-201's recipe by default: SGD with Nesterov momentum 0.9, weight
decay 5e-4 and a cosine learning rate (to 0, stepped every batch), cross
entropy, no warm-up. On CUDA the forward pass runs under ``torch.autocast``
(float16 with a gradient scaler) unless ``amp=False``; the CPU trains in
float32. A diverged run (a non-finite training loss) raises
``FloatingPointError``, which a backend records as a failed trial.

Multi-fidelity: a call may ask for ``fidelity`` epochs instead of the
evaluator's ``epochs``. With ``schedule_epochs`` set (a multi-fidelity run sets
it to its largest fidelity), ``fidelity`` epochs are the first ``fidelity``
epochs of one ``schedule_epochs``-long cosine schedule, so a lower fidelity is
a prefix of a higher one, and a promotion continues from the lower fidelity's
checkpoint (``save_path`` / ``resume_path``) instead of retraining. The
checkpoint holds the network's, optimizer's, learning-rate schedule's and
gradient scaler's states, the shuffling generator's state (it also draws the
augmentation, and is the only random source the training loop uses), the
epochs done, the schedule's length, the architecture's string and the
settings that shape training; it is plain tensors and containers, read with
``torch.load(..., weights_only=True)``. On the CPU, training ``k`` epochs,
saving and continuing to ``n`` gives the same weights and accuracy as training
``n`` epochs at once.
"""

from __future__ import annotations

import io
import logging
import math
import os
import pickle
import time
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from bonas.device import resolve_device
from bonas.evaluators.data import (ImageData, as_image_data, augment, batches, image_shape, labels_of, n_batches,
                                  resident)
from bonas.files import atomic_write
from bonas.networks import build_network, check_input, count_params
from bonas.spaces.base import Space
from bonas.spaces.nb201 import NASBench201Space
from bonas.validation import check_finite, check_int, check_positive

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "bonas.TrainingEvaluator checkpoint 1"
"""The ``format`` entry of a checkpoint this module writes; any other file is not resumed from."""


class TrainingEvaluator:
    """A picklable ``arch -> dict``: ``value`` (validation accuracy, %), ``train_loss`` (mean over the last
    epoch), ``train_time_s`` (this call's), ``params`` (a count), ``epochs`` (the fidelity reached),
    ``epochs_trained`` (run in this call), ``resumed_from_epoch`` (0 unless continued from a checkpoint),
    ``device`` and ``amp``; with a ``resume_path`` also ``promotion`` (``"continued"`` or ``"retrained"``, then
    with its ``retrain_reason``).

    Call it as ``evaluator(arch)``, or ``evaluator(arch, fidelity=8, save_path=..., resume_path=...)`` in a
    multi-fidelity run (see :meth:`__call__`).

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
    :param network_options: the network builder's other options: ``op_modules`` for a user's cell space,
        ``auxiliary`` and ``drop_path_prob`` for DARTS networks.
    :param auxiliary_weight: a network that returns ``(logits, auxiliary logits)`` in training mode (DARTS with
        ``auxiliary=True``) is trained on ``loss(logits) + auxiliary_weight * loss(auxiliary logits)`` (DARTS: 0.4);
        ``train_loss`` is that sum.
    :param grad_clip: clip the gradients' global norm to this before each step (DARTS: 5); ``None``: no clipping.
        A network with a ``set_progress(fraction)`` method (DARTS's drop path) is told the fraction of the
        schedule done at the start of each epoch.
    :param num_threads: ``torch.set_num_threads`` in the evaluating process (useful with several workers).
    :param epochs: what a call without ``fidelity`` trains.
    :param schedule_epochs: the cosine learning-rate schedule's length in epochs. ``None``: it spans the epochs a
        call trains. Set: a call of ``fidelity`` epochs trains the first ``fidelity`` epochs of this schedule
        (a prefix of every longer fidelity), so ``fidelity`` (and ``epochs``) may not exceed it.
    """

    def __init__(self, train_data: Any, val_data: Any, epochs: int = 12, batch_size: int = 256, lr: float = 0.1,
                 device: str = "auto", amp: bool | str = "auto", seed: int = 0, space: Space | None = None,
                 num_classes: int | None = None, momentum: float = 0.9, weight_decay: float = 5e-4,
                 augment: bool = False, channels: int | None = None, cells_per_stage: int | None = None,
                 num_threads: int | None = None, schedule_epochs: int | None = None,
                 network_options: Mapping[str, Any] | None = None, auxiliary_weight: float = 0.4,
                 grad_clip: float | None = None) -> None:
        epochs = check_int(epochs, "epochs", minimum=1)
        if schedule_epochs is not None:
            schedule_epochs = check_int(schedule_epochs, "schedule_epochs", minimum=1)
            if epochs > schedule_epochs:
                raise ValueError(f"epochs {epochs} exceeds schedule_epochs {schedule_epochs}: a call trains a "
                                 f"prefix of the schedule; set epochs <= schedule_epochs")
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        num_threads = None if num_threads is None else check_int(num_threads, "num_threads", minimum=1)
        lr = check_positive(lr, "lr")
        grad_clip = None if grad_clip is None else check_positive(grad_clip, "grad_clip")
        if not check_finite(auxiliary_weight, "auxiliary_weight") >= 0:
            raise ValueError(f"auxiliary_weight must be >= 0, got {auxiliary_weight}")
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
        self.network_options = {"channels": channels, "cells_per_stage": cells_per_stage, **(network_options or {})}
        check_input(self.space, self.image_shape, self.num_classes, **self.network_options)
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr
        self.momentum, self.weight_decay, self.augment = momentum, weight_decay, augment
        self.device, self.amp, self.seed, self.num_threads = device, amp, seed, num_threads
        self.schedule_epochs = schedule_epochs
        self.auxiliary_weight, self.grad_clip = float(auxiliary_weight), grad_clip

    def build(self, arch: Any) -> nn.Module:
        """The untrained network of ``arch`` for this data."""
        return build_network(self.space, arch, self.num_classes, self.image_shape[0], **self.network_options)

    def __call__(self, arch: Any, fidelity: int | None = None, save_path: str | os.PathLike | None = None,
                 resume_path: str | os.PathLike | None = None) -> dict[str, Any]:
        """Train ``arch`` for ``fidelity`` epochs (default ``epochs``) and measure its validation accuracy.

        :param fidelity: the epochs to have trained when this call returns; at most ``schedule_epochs``.
        :param save_path: where to save a checkpoint after training (written atomically, folders created).
        :param resume_path: a checkpoint to continue from. It is used when it exists, is readable and
            matches this call (the same architecture, schedule length and training settings, fewer epochs
            done than ``fidelity``); otherwise the network is trained from scratch and ``retrain_reason``
            says why.
        """
        fidelity = self.epochs if fidelity is None else check_int(fidelity, "fidelity", minimum=1)
        schedule_epochs = fidelity if self.schedule_epochs is None else self.schedule_epochs
        if fidelity > schedule_epochs:
            raise ValueError(f"fidelity {fidelity} exceeds schedule_epochs {schedule_epochs}: a call trains a "
                             f"prefix of the schedule")
        if self.num_threads is not None:
            torch.set_num_threads(self.num_threads)
        device = resolve_device(self.device)
        use_amp = device.type == "cuda" and self.amp is not False
        torch.manual_seed(self.seed)
        network = self.build(arch).to(device)
        arch_str = self.space.to_str(arch)
        train_data, val_data = resident(self.train_data, device), resident(self.val_data, device)
        optimizer = torch.optim.SGD(network.parameters(), lr=self.lr, momentum=self.momentum, nesterov=True,
                                    weight_decay=self.weight_decay)
        total_steps = schedule_epochs * n_batches(train_data, self.batch_size)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / total_steps)))
        scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
        generator = torch.Generator().manual_seed(self.seed)
        settings = self._settings(len(train_data), use_amp)
        done, promotion = 0, {}
        if resume_path is not None:
            checkpoint, reason = _matching_checkpoint(resume_path, arch_str, schedule_epochs, fidelity, settings)
            if checkpoint is None:
                logger.info("retraining %s to %d epochs: %s", arch_str, fidelity, reason)
                promotion = {"promotion": "retrained", "retrain_reason": reason}
            else:
                network.load_state_dict(checkpoint["network"])
                optimizer.load_state_dict(checkpoint["optimizer"])
                schedule.load_state_dict(checkpoint["schedule"])
                scaler.load_state_dict(checkpoint["scaler"])
                generator.set_state(checkpoint["generator"])
                done, promotion = checkpoint["epochs_done"], {"promotion": "continued"}
        start = time.perf_counter()
        for epoch in range(done + 1, fidelity + 1):
            network.train()
            if hasattr(network, "set_progress"):
                network.set_progress((epoch - 1) / schedule_epochs)
            loss_sum, seen = torch.zeros((), device=device), 0
            for x, y in batches(train_data, self.batch_size, device, generator):
                if self.augment:
                    x = augment(x, generator)
                with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                    loss = self._loss(network(x), y)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if self.grad_clip is not None:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(network.parameters(), self.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                schedule.step()
                loss_sum += loss.detach().float() * len(y)
                seen += len(y)
            train_loss = loss_sum.item() / seen
            if not math.isfinite(train_loss):
                raise FloatingPointError(f"training diverged: mean training loss {train_loss} in epoch {epoch} of "
                                         f"{fidelity} (lr {self.lr}); try a smaller lr")
        train_time_s = time.perf_counter() - start
        if save_path is not None:
            save_checkpoint(save_path, {
                "format": CHECKPOINT_FORMAT, "arch": arch_str, "epochs_done": fidelity,
                "schedule_epochs": schedule_epochs, "settings": settings, "network": network.state_dict(),
                "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                "scaler": scaler.state_dict(), "generator": generator.get_state(), "train_loss": train_loss})
        return {"value": accuracy(network, val_data, self.batch_size, device, use_amp), "train_loss": train_loss,
                "train_time_s": train_time_s, "params": count_params(network), "epochs": fidelity,
                "epochs_trained": fidelity - done, "resumed_from_epoch": done, "device": str(device),
                "amp": use_amp, **promotion}

    def _loss(self, outputs: torch.Tensor | tuple[torch.Tensor, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        """Cross entropy of ``n x classes`` logits, plus the weighted auxiliary head's when there is one."""
        if isinstance(outputs, tuple):
            logits, auxiliary = outputs
            return (nn.functional.cross_entropy(logits, y)
                    + self.auxiliary_weight * nn.functional.cross_entropy(auxiliary, y))
        return nn.functional.cross_entropy(outputs, y)

    def _settings(self, train_images: int, use_amp: bool) -> dict[str, Any]:
        """What besides the architecture and schedule shapes training, as plain values a checkpoint must match
        (user op modules by their op names)."""
        options = {name: _plain(value) for name, value in self.network_options.items()}
        return {"lr": float(self.lr), "batch_size": self.batch_size, "momentum": float(self.momentum),
                "weight_decay": float(self.weight_decay), "augment": bool(self.augment), "seed": int(self.seed),
                "amp": use_amp, "num_classes": self.num_classes, "image_shape": [int(n) for n in self.image_shape],
                "train_images": train_images, **options,
                # recorded only when set, so that checkpoints written before these settings existed still match
                **({} if self.auxiliary_weight == 0.4 else {"auxiliary_weight": self.auxiliary_weight}),
                **({} if self.grad_clip is None else {"grad_clip": self.grad_clip})}


def _plain(value: Any) -> Any:
    """A network option as a plain value a checkpoint holds: a mapping of modules by its sorted keys, anything
    else but a number or string by its qualified name (a repr may hold a memory address)."""
    if isinstance(value, Mapping):
        return sorted(str(key) for key in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return getattr(value, "__qualname__", type(value).__qualname__)


def save_checkpoint(path: str | os.PathLike, checkpoint: dict[str, Any]) -> None:
    """``torch.save`` ``checkpoint`` to ``path`` atomically (a temporary file beside it, then ``os.replace``),
    creating its folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = io.BytesIO()
    torch.save(checkpoint, payload)
    atomic_write(path, payload.getvalue())


def _matching_checkpoint(path: str | os.PathLike, arch_str: str, schedule_epochs: int, fidelity: int,
                         settings: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The checkpoint at ``path`` if training ``arch_str`` to ``fidelity`` can continue from it, else ``None``
    and why not."""
    if not os.path.isfile(path):
        return None, f"no checkpoint at {os.fspath(path)}"
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file can make the unpickler raise almost anything
        why = ("weights_only=True refused it (corrupt, or not plain tensors and containers)"
               if isinstance(error, pickle.UnpicklingError) else (str(error).strip().splitlines() or [""])[0])
        return None, f"unreadable checkpoint at {os.fspath(path)}: {type(error).__name__}: {why}"
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        return None, f"{os.fspath(path)} is not a TrainingEvaluator checkpoint"
    if checkpoint["arch"] != arch_str:
        return None, f"different architecture: the checkpoint trained {checkpoint['arch']}"
    if checkpoint["schedule_epochs"] != schedule_epochs:
        return None, (f"schedule differs: the checkpoint follows a {checkpoint['schedule_epochs']}-epoch cosine "
                      f"schedule, this call a {schedule_epochs}-epoch one")
    differing = [f"{name} {checkpoint['settings'].get(name)!r} in the checkpoint, {settings.get(name)!r} here"
                 for name in sorted(set(settings) | set(checkpoint["settings"]))
                 if checkpoint["settings"].get(name) != settings.get(name)]
    if differing:
        return None, "settings differ: " + "; ".join(differing)
    if checkpoint["epochs_done"] >= fidelity:
        return None, f"the checkpoint has {checkpoint['epochs_done']} epochs, not fewer than fidelity {fidelity}"
    return checkpoint, ""


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

"""Where an evaluation runs."""

from __future__ import annotations

import torch


def pick_device(device: str | torch.device) -> torch.device:
    """``"auto"`` is CUDA when present, else the CPU; anything else as ``torch.device`` reads it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)

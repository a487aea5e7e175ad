"""Evaluation backends: where architectures are trained while the optimizer keeps proposing."""

from bonas.backends.base import Backend, Outcome
from bonas.backends.local import LocalBackend
from bonas.backends.ray import RayBackend

__all__ = ["Backend", "LocalBackend", "Outcome", "RayBackend"]

"""Evaluators: ``arch -> dict`` callables for ``bonas.run`` — torch training, and NASWOT without training."""

from bonas.evaluators.data import ArrayData, CIFAR10Folder, digits
from bonas.evaluators.naswot import NASWOT, naswot_score
from bonas.evaluators.training import TrainingEvaluator

__all__ = ["ArrayData", "CIFAR10Folder", "NASWOT", "TrainingEvaluator", "digits", "naswot_score"]

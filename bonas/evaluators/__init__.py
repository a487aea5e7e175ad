"""Evaluators: ``arch -> dict`` callables for ``bonas.run`` — torch training, and the zero-cost NASWOT and KNAS."""

from bonas.evaluators.data import ArrayData, CIFAR10Folder, digits
from bonas.evaluators.knas import KNAS, knas_score
from bonas.evaluators.naswot import NASWOT, naswot_score
from bonas.evaluators.training import TrainingEvaluator

__all__ = ["ArrayData", "CIFAR10Folder", "KNAS", "NASWOT", "TrainingEvaluator", "digits", "knas_score", "naswot_score"]

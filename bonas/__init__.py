"""bonas: Bayesian optimisation for neural architecture search."""

from bonas.backends import Backend, LocalBackend, Outcome, RayBackend
from bonas.evaluators import NASWOT, TrainingEvaluator
from bonas.journal import Journal, JournalCorruptError
from bonas.journal_lock import JournalLockedError
from bonas.loop import EvaluationError, run
from bonas.nasbench import NASBench101Table, NASBench201Table, NB101Record, NB201Record
from bonas.networks import build_network
from bonas.optimizer import Optimizer, SpaceExhaustedError
from bonas.spaces import (
    NB101_OPS,
    DARTS_OPS,
    NB201_OPS,
    CellArch,
    CellSpace,
    DARTSArch,
    DARTSSpace,
    NASBench101Space,
    NASBench201Space,
    NB201Arch,
    Space,
    SubsetSpace,
)
from bonas.trial import Trial, TrialState

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "LocalBackend",
    "Outcome",
    "RayBackend",
    "EvaluationError",
    "run",
    "NASWOT",
    "TrainingEvaluator",
    "build_network",
    "CellArch",
    "CellSpace",
    "NASBench101Space",
    "NASBench101Table",
    "NB101Record",
    "NB101_OPS",
    "DARTS_OPS",
    "DARTSArch",
    "DARTSSpace",
    "Journal",
    "JournalCorruptError",
    "JournalLockedError",
    "NB201_OPS",
    "NASBench201Space",
    "NASBench201Table",
    "NB201Arch",
    "NB201Record",
    "Optimizer",
    "SpaceExhaustedError",
    "Space",
    "SubsetSpace",
    "Trial",
    "TrialState",
    "__version__",
]

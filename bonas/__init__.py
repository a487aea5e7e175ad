"""bonas: Bayesian optimisation for neural architecture search."""

from bonas.journal import Journal, JournalCorruptError
from bonas.nasbench import NASBench201Table, NB201Record
from bonas.optimizer import Optimizer
from bonas.spaces import DARTSArch, DARTSSpace, NB201_OPS, NASBench201Space, NB201Arch, Space
from bonas.trial import Trial, TrialState

__version__ = "0.1.0"

__all__ = [
    "DARTSArch",
    "DARTSSpace",
    "Journal",
    "JournalCorruptError",
    "NB201_OPS",
    "NASBench201Space",
    "NASBench201Table",
    "NB201Arch",
    "NB201Record",
    "Optimizer",
    "Space",
    "Trial",
    "TrialState",
    "__version__",
]

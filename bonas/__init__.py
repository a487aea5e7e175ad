"""bonas: Bayesian optimisation for neural architecture search."""

import warnings

with warnings.catch_warnings():
    # linear_operator (under gpytorch and botorch) decorates functions with torch.jit.script at import, which
    # torch 2.10+ deprecates with a warning per decorated function: nothing a bonas user can act on. Only that
    # message, only during this import; every later warning is left as it is.
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)
    import linear_operator  # noqa: F401

from bonas.acquisition import Acquisition
from bonas.backends import Backend, LocalBackend, Outcome, RayBackend
from bonas.batch import BATCH_RULES, BatchRule, BatchRuleEntry, register_batch_rule, unregister_batch_rule
from bonas.encoders import ENCODINGS, EncodingEntry, register_encoding, unregister_encoding
from bonas.kernels import KERNELS, register_kernel
from bonas.evaluators import KNAS, NASWOT, TrainingEvaluator
from bonas.journal import Journal, JournalCorruptError
from bonas.journal_report import JournalReport, read_report, write_report
from bonas.journal_lock import JournalLockedError
from bonas.loop import EvaluationError, run
from bonas.nasbench import NASBench101Table, NASBench201Table, NB101Record, NB201Record
from bonas.networks import ParamBudget, WithParams, build_network
from bonas.optimizer import Optimizer, SpaceExhaustedError
from bonas.outcomes import Outcomes
from bonas.settings import OptimizerSettings
from bonas.spaces import (
    NB101_OPS,
    DARTS_OPS,
    NB201_OPS,
    CellArch,
    CellSpace,
    DARTSArch,
    DARTSSpace,
    GraphSpec,
    NASBench101Space,
    NASBench201Space,
    NB201Arch,
    SPACES,
    Space,
    SpaceEntry,
    SubsetSpace,
    register_space,
    unregister_space,
)
from bonas.surrogate import Surrogate
from bonas.trial import Trial, TrialState

__version__ = "0.1.0"

__all__ = [
    "Acquisition",
    "BATCH_RULES",
    "BatchRule",
    "BatchRuleEntry",
    "ENCODINGS",
    "EncodingEntry",
    "OptimizerSettings",
    "Surrogate",
    "SPACES",
    "SpaceEntry",
    "register_batch_rule",
    "register_encoding",
    "register_space",
    "KERNELS",
    "register_kernel",
    "unregister_batch_rule",
    "unregister_encoding",
    "unregister_space",
    "Backend",
    "LocalBackend",
    "Outcome",
    "RayBackend",
    "EvaluationError",
    "run",
    "KNAS",
    "NASWOT",
    "TrainingEvaluator",
    "build_network",
    "Outcomes",
    "ParamBudget",
    "WithParams",
    "CellArch",
    "CellSpace",
    "NASBench101Space",
    "NASBench101Table",
    "NB101Record",
    "NB101_OPS",
    "DARTS_OPS",
    "DARTSArch",
    "DARTSSpace",
    "GraphSpec",
    "Journal",
    "JournalCorruptError",
    "JournalReport",
    "read_report",
    "write_report",
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

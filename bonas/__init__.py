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
from bonas.nasbench import (NASBench101Table, NASBench201Table, NASBench301Table, NB101Record, NB201Record,
                            NB301Record)
from bonas.networks import (AllOf, DARTSNetwork, FlopBudget, ParamBudget, SizeSignals, WithParams, build_network,
                            count_flops, count_params)
from bonas.optimizer import Optimizer, SpaceExhaustedError
from bonas.outcomes import Outcomes
from bonas.prior import CheapSignalMean, CheapSignals
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
from bonas.spaces.spec import SpaceSpec, load_space
from bonas.surrogate import Surrogate
from bonas.trial import Trial, TrialState

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Acquisition",
    "AllOf",
    "Backend",
    "BATCH_RULES",
    "CheapSignalMean",
    "CheapSignals",
    "BatchRule",
    "BatchRuleEntry",
    "build_network",
    "CellArch",
    "CellSpace",
    "count_flops",
    "count_params",
    "DARTS_OPS",
    "DARTSArch",
    "DARTSNetwork",
    "DARTSSpace",
    "EncodingEntry",
    "ENCODINGS",
    "EvaluationError",
    "FlopBudget",
    "GraphSpec",
    "Journal",
    "JournalCorruptError",
    "JournalLockedError",
    "JournalReport",
    "KERNELS",
    "KNAS",
    "load_space",
    "LocalBackend",
    "NASBench101Space",
    "NASBench101Table",
    "NASBench201Space",
    "NASBench201Table",
    "NASBench301Table",
    "NASWOT",
    "NB101_OPS",
    "NB101Record",
    "NB201_OPS",
    "NB201Arch",
    "NB201Record",
    "NB301Record",
    "Optimizer",
    "OptimizerSettings",
    "Outcome",
    "Outcomes",
    "ParamBudget",
    "SizeSignals",
    "RayBackend",
    "read_report",
    "register_batch_rule",
    "register_encoding",
    "register_kernel",
    "register_space",
    "run",
    "Space",
    "SpaceEntry",
    "SpaceExhaustedError",
    "SPACES",
    "SpaceSpec",
    "SubsetSpace",
    "Surrogate",
    "TrainingEvaluator",
    "Trial",
    "TrialState",
    "unregister_batch_rule",
    "unregister_encoding",
    "unregister_space",
    "WithParams",
    "write_report",
]

"""bonas: Bayesian optimisation for neural architecture search."""

from bonas.nasbench import NASBench201Table, NB201Record
from bonas.spaces import NB201_OPS, NASBench201Space, NB201Arch, Space

__version__ = "0.1.0"

__all__ = ["NB201_OPS", "NASBench201Space", "NASBench201Table", "NB201Arch", "NB201Record", "Space", "__version__"]

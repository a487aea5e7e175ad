"""Search spaces: architectures as immutable values and node-op graphs."""

from bonas.spaces.base import Space
from bonas.spaces.darts import DARTS_OPS, DARTSArch, DARTSSpace
from bonas.spaces.nb201 import NB201_OPS, NASBench201Space, NB201Arch

__all__ = [
    "DARTS_OPS",
    "DARTSArch",
    "DARTSSpace",
    "NB201_OPS",
    "NASBench201Space",
    "NB201Arch",
    "Space",
]

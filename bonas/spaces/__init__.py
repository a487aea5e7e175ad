"""Search spaces: architectures as immutable values and node-op graphs."""

from bonas.spaces.base import Space
from bonas.spaces.nb201 import NB201_OPS, NASBench201Space, NB201Arch

__all__ = ["NB201_OPS", "NASBench201Space", "NB201Arch", "Space"]

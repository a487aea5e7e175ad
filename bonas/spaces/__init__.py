"""Search spaces: architectures as immutable values and node-op graphs."""

from bonas.spaces.base import GraphSpec, Space
from bonas.spaces.cell import NB101_OPS, CellArch, CellSpace, NASBench101Space
from bonas.spaces.darts import DARTS_OPS, DARTSArch, DARTSSpace
from bonas.spaces.nb201 import NB201_OPS, NASBench201Space, NB201Arch
from bonas.spaces.registry import SPACES, SpaceEntry, register_space, space_from_name, unregister_space
from bonas.spaces.subset import SubsetSpace

__all__ = [
    "CellArch",
    "CellSpace",
    "NASBench101Space",
    "NB101_OPS",
    "DARTS_OPS",
    "DARTSArch",
    "DARTSSpace",
    "GraphSpec",
    "NB201_OPS",
    "NASBench201Space",
    "NB201Arch",
    "SPACES",
    "Space",
    "SpaceEntry",
    "SubsetSpace",
    "register_space",
    "space_from_name",
    "unregister_space",
]

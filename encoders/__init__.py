"""Architecture encodings: adjacency, BANANAS paths, Weisfeiler-Lehman features, tree-Wasserstein, CATE."""

from typing import Any

from bonas.encoders.adjacency import AdjacencyEncoder
from bonas.encoders.base import GraphEncoder
from bonas.encoders.cate import CATEEncoder
from bonas.encoders.distances import pairwise_tree_wasserstein, tree_wasserstein
from bonas.encoders.path import PathEncoder
from bonas.encoders.tw import TreeWassersteinEncoder
from bonas.encoders.wl import WLEncoder
from bonas.spaces.base import Space

ENCODERS = {
    "adjacency": AdjacencyEncoder,
    "path": PathEncoder,
    "wl": WLEncoder,
    "tw": TreeWassersteinEncoder,
    "cate": CATEEncoder,
}


def make_encoder(name: str, space: Space, **kwargs: Any) -> GraphEncoder:
    """The encoder called ``name`` (``adjacency``, ``path``, ``wl``, ``tw``, ``cate``) for ``space``."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoding {name!r}; expected one of {list(ENCODERS)}")
    return ENCODERS[name](space, **kwargs)


__all__ = [
    "ENCODERS",
    "AdjacencyEncoder",
    "CATEEncoder",
    "GraphEncoder",
    "PathEncoder",
    "TreeWassersteinEncoder",
    "WLEncoder",
    "make_encoder",
    "pairwise_tree_wasserstein",
    "tree_wasserstein",
]

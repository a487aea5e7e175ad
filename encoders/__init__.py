"""Architecture encodings: adjacency, BANANAS paths, Weisfeiler-Lehman features, tree-Wasserstein, CATE."""

from typing import Any

from bonas.encoders.adjacency import AdjacencyEncoder
from bonas.encoders.base import GraphEncoder
from bonas.encoders.cate import CATEEncoder
from bonas.encoders.distances import pairwise_tree_wasserstein, tree_wasserstein
from bonas.encoders.path import PathEncoder
from bonas.encoders.registry import ENCODINGS, EncodingEntry, register_encoding, unregister_encoding
from bonas.encoders.tw import TreeWassersteinEncoder
from bonas.encoders.wl import WLEncoder
from bonas.spaces.base import Space

register_encoding(EncodingEntry("tw", TreeWassersteinEncoder, kernel="tw"))
register_encoding(EncodingEntry("path", PathEncoder, kernel="tanimoto"))
register_encoding(EncodingEntry("wl", WLEncoder, kernel="tanimoto"))
register_encoding(EncodingEntry("adjacency", AdjacencyEncoder, kernel="tanimoto"))
# a pretrained transformer's embeddings: Euclidean, hence one lengthscale (isotropic Matern 5/2)
register_encoding(EncodingEntry("cate", CATEEncoder, kernel="matern-iso", options=("checkpoint",), on_device=True))

ENCODERS = ENCODINGS
"""The registry under its first name: every registered encoding, by name."""


def make_encoder(name: str, space: Space, **kwargs: Any) -> GraphEncoder:
    """The encoder of the encoding registered as ``name`` (``adjacency``, ``path``, ``wl``, ``tw``, ``cate``) for
    ``space``; ``kwargs`` go to its encoder class."""
    return ENCODINGS[name].encoder(space, **kwargs)


__all__ = [
    "ENCODERS",
    "ENCODINGS",
    "AdjacencyEncoder",
    "CATEEncoder",
    "EncodingEntry",
    "GraphEncoder",
    "PathEncoder",
    "TreeWassersteinEncoder",
    "WLEncoder",
    "make_encoder",
    "pairwise_tree_wasserstein",
    "register_encoding",
    "tree_wasserstein",
    "unregister_encoding",
]

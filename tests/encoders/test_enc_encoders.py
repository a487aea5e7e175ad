import networkx as nx
import numpy as np
import pytest
import torch

from bonas.encoders import ENCODERS, PathEncoder, make_encoder
from bonas.spaces import DARTSSpace, NASBench101Space, NASBench201Space

NB201 = NASBench201Space()
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.mark.parametrize("name", sorted(ENCODERS))
@pytest.mark.parametrize("space", [NB201, NASBench101Space(), DARTSSpace()], ids=lambda s: s.name)
def test_shape_dtype_and_determinism(name, space):
    encoder = make_encoder(name, space)
    archs = space.sample(25, np.random.default_rng(0))
    X = encoder.encode(archs)
    assert X.shape == (25, encoder.dim) and X.dtype == torch.float64
    assert torch.equal(X, make_encoder(name, space).encode(archs))
    # a transformer's batched matmuls may round differently with the batch size
    torch.testing.assert_close(X[3:4], encoder.encode(archs[3:4]), rtol=0, atol=1e-5 if name == "cate" else 0)


def test_path_encoding_of_a_known_cell():
    encoder = PathEncoder(NB201)
    assert encoder.dim == 1 + 5 + 25 + 125
    paths = encoder.op_paths(NB201.to_graph(NB201.from_str(BEST)))
    assert paths == {
        ("skip_connect",),
        ("nor_conv_3x3", "nor_conv_3x3"),
        ("nor_conv_3x3", "nor_conv_3x3"),
        ("nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3"),
    }
    row = encoder.encode([NB201.from_str(BEST)])[0]
    assert int(row.sum()) == 3
    assert PathEncoder(NB201, truncate=40).dim == 40


def test_adjacency_encoding_of_a_known_cell():
    encoder = make_encoder("adjacency", NB201)
    row = encoder.encode([NB201.from_str(BEST)])[0]
    graph = NB201.to_graph(NB201.from_str(BEST))
    assert encoder.dim == 28 + 8 * 7
    assert int(row[:28].sum()) == graph.number_of_edges()
    assert int(row[28:].sum()) == graph.number_of_nodes()


def test_wl_counts_ops_and_subtrees():
    encoder = make_encoder("wl", NB201)
    row = encoder.encode([NB201.from_str(BEST)])[0]
    assert row[encoder.labels["nor_conv_3x3"]] == 5
    assert row.sum() == 2 * 8  # each node: its op label plus one WL label


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_bad_input_is_named(name):
    encoder = make_encoder(name, NB201)
    with pytest.raises(ValueError, match="empty batch"):
        encoder.encode([])
    with pytest.raises(ValueError, match="architecture 1 of the batch: expected an NB201Arch"):
        encoder.encode([NB201.from_str(BEST), DARTSSpace().sample(1, np.random.default_rng(0))[0]])
    no_output = nx.DiGraph()
    no_output.add_node(0, op="input")
    no_output.add_node(1, op="nor_conv_3x3")
    no_output.add_edge(0, 1)
    with pytest.raises(ValueError, match="graph 0 of the batch: graph needs exactly one 'output' node"):
        encoder.encode_graphs([no_output])
    cyclic = nx.DiGraph([(0, 1), (1, 2), (2, 1)])
    nx.set_node_attributes(cyclic, {0: "input", 1: "nor_conv_3x3", 2: "output"}, "op")
    with pytest.raises(ValueError, match="cycle"):
        encoder.encode_graphs([cyclic])
    with pytest.raises(ValueError, match="unknown encoding 'cate2'"):
        make_encoder("cate2", NB201)

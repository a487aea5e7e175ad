"""GraphSpec: the graph facts a space declares, all that encoders read of it."""

import dataclasses
import itertools
import re
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch

from bonas.encoders import ENCODERS, CATEEncoder, PathEncoder, make_encoder
from bonas.encoders.cate import CATEConfig, CATEModel, save_checkpoint
from bonas.spaces import (
    DARTS_OPS,
    NB101_OPS,
    NB201_OPS,
    DARTSSpace,
    GraphSpec,
    NASBench101Space,
    NASBench201Space,
    Space,
    SubsetSpace,
)
from bonas.spaces.graph import INPUT, OUTPUT, check_node_op_graph

CHAIN_OPS = ("conv", "pool")


class ChainSpace(Space):
    """A user's space written from scratch: a chain of one to three ops between input and output."""

    name = "chain"
    ops = CHAIN_OPS
    graph_spec = GraphSpec(ops=CHAIN_OPS, max_nodes=5)

    @property
    def is_enumerable(self) -> bool:
        return True

    def enumerate(self):
        for length in (1, 2, 3):
            yield from itertools.product(CHAIN_OPS, repeat=length)

    def validate(self, arch):
        if not isinstance(arch, tuple) or not 1 <= len(arch) <= 3 or not set(arch) <= set(CHAIN_OPS):
            raise ValueError(f"expected a tuple of 1 to 3 ops of {list(CHAIN_OPS)}, got {arch!r}")

    def to_graph(self, arch):
        self.validate(arch)
        graph = nx.path_graph(len(arch) + 2, create_using=nx.DiGraph)
        nx.set_node_attributes(graph, dict(enumerate((INPUT, *arch, OUTPUT))), "op")
        return graph

    def to_str(self, arch):
        return ",".join(arch)

    def from_str(self, text):
        arch = tuple(text.split(","))
        self.validate(arch)
        return arch

    def sample(self, n, rng):
        archs = list(self.enumerate())
        return [archs[row] for row in rng.integers(len(archs), size=n)]

    def mutate(self, arch, rng):
        neighbours = self.neighbours(arch)
        return neighbours[int(rng.integers(len(neighbours)))]

    def neighbours(self, arch):
        return [other for other in self.enumerate() if other != arch and len(other) == len(arch)]

    def canonical_key(self, arch):
        return arch


CHAIN = ChainSpace()
CHAIN_ARCHS = list(CHAIN.enumerate())


@pytest.fixture(scope="module")
def chain_checkpoint(tmp_path_factory):
    """A CATE model of random (fixed) weights sized by the chain space's GraphSpec."""
    torch.manual_seed(0)
    spec = CHAIN.graph_spec
    model = CATEModel(CATEConfig(n_tokens=len(spec.vocabulary) + 2, max_nodes=spec.max_nodes, d_model=16, n_heads=2,
                                 graph_layers=1, cross_layers=1)).eval()
    path = tmp_path_factory.mktemp("cate-chain") / "chain.pt"
    save_checkpoint(path, model, CHAIN, training={"command": "random weights for a GraphSpec test"})
    return path


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_every_encoder_encodes_a_user_space_from_its_graph_spec(name, chain_checkpoint):
    options = {"checkpoint": chain_checkpoint} if name == "cate" else {}
    encoder = make_encoder(name, CHAIN, **options)
    X = encoder.encode(CHAIN_ARCHS)
    assert X.shape == (len(CHAIN_ARCHS), encoder.dim) and X.dtype == torch.float64
    assert encoder.vocabulary == (INPUT, "conv", "pool", OUTPUT)
    assert len(torch.unique(X, dim=0)) == len(CHAIN_ARCHS)  # a chain's op sequence is its whole content


def test_sizes_follow_the_graph_spec():
    assert make_encoder("adjacency", CHAIN).dim == 5 * 4 // 2 + 5 * 4
    path = PathEncoder(CHAIN)
    assert path.dim == 1 + 2 + 4 + 8  # paths of 0 to max_nodes - 2 = 3 ops
    row = path.encode([("pool", "conv")])[0]
    assert row.sum() == 1 and row[path.path_index["pool", "conv"]] == 1
    groups = make_encoder("tw", CHAIN).groups
    assert groups["in"].stop - groups["in"].start == groups["out"].stop - groups["out"].start == 5 - 1


def test_path_ops_and_bound_narrow_the_path_encoding():
    class ConvPaths(ChainSpace):
        graph_spec = GraphSpec(ops=CHAIN_OPS, max_nodes=5, path_ops=("conv",), max_path_ops=2)

    encoder = PathEncoder(ConvPaths())
    assert encoder.paths == [(), ("conv",), ("conv", "conv")]
    assert encoder.encode([("conv", "pool", "conv")]).tolist() == [[0.0, 0.0, 1.0]]  # pool is skipped
    with pytest.raises(ValueError, match=r"path \('conv', 'conv', 'conv'\) is longer than the 2 ops"):
        encoder.encode([("conv", "conv", "conv")])


def test_defaults_and_normalised_fields():
    spec = GraphSpec(ops=["a", "b"], max_nodes=np.int64(7))
    assert spec.ops == ("a", "b") and spec.path_ops == ("a", "b") and spec.max_path_ops == 5
    assert type(spec.max_nodes) is int and spec.max_nodes == 7
    assert spec.vocabulary == (INPUT, "a", "b", OUTPUT)
    assert spec == GraphSpec(ops=("a", "b"), max_nodes=7, path_ops=("a", "b"), max_path_ops=5)
    assert hash(spec) == hash(GraphSpec(ops=("a", "b"), max_nodes=7))
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.max_nodes = 8


@pytest.mark.parametrize("fields, message", [
    ({"ops": "conv"}, r"GraphSpec\.ops must be a sequence of op names, got str"),
    ({"ops": ()}, r"GraphSpec\.ops must name at least one op"),
    ({"ops": ("conv", "conv")}, r"GraphSpec\.ops names \['conv'\] more than once"),
    ({"ops": ("input", "conv")}, r"GraphSpec\.ops holds the ops besides 'input' and 'output', got 'input'"),
    ({"ops": ("conv", 3)}, r"GraphSpec\.ops must hold non-empty op names, got 3"),
    ({"max_nodes": 1}, r"GraphSpec\.max_nodes must be an integer >= 2, got 1"),
    ({"max_nodes": True}, r"GraphSpec\.max_nodes must be an integer >= 2, got True"),
    ({"max_nodes": 7.0}, r"GraphSpec\.max_nodes must be an integer >= 2, got 7\.0"),
    ({"path_ops": ("maxpool",)}, r"GraphSpec\.path_ops \['maxpool'\] are not in GraphSpec\.ops \['conv', 'pool'\]"),
    ({"path_ops": ("conv", "conv")}, r"GraphSpec\.path_ops names \['conv'\] more than once"),
    ({"max_path_ops": -1}, r"GraphSpec\.max_path_ops must be an integer >= 0, got -1"),
    ({"max_path_ops": 6}, r"GraphSpec\.max_path_ops is 6, but a graph of at most 7 nodes has at most 5 ops"),
])
def test_a_bad_graph_spec_names_the_field(fields, message):
    with pytest.raises(ValueError, match=message):
        GraphSpec(**{"ops": ("conv", "pool"), "max_nodes": 7, **fields})


def test_a_space_must_declare_its_graph_spec():
    no_spec = type("NoSpec", (Space,), {key: value for key, value in vars(ChainSpace).items() if key != "graph_spec"})
    with pytest.raises(TypeError, match="abstract method graph_spec"):
        no_spec()

    class WrongSpec(ChainSpace):
        graph_spec = {"ops": CHAIN_OPS, "max_nodes": 5}

    with pytest.raises(TypeError, match=r"space 'chain' has a graph_spec of type dict; expected .*GraphSpec"):
        make_encoder("path", WrongSpec())


def test_built_in_specs():
    assert NASBench201Space().graph_spec == GraphSpec(ops=NB201_OPS, max_nodes=8, max_path_ops=3)
    assert NASBench101Space().graph_spec == GraphSpec(ops=NB101_OPS, max_nodes=7, max_path_ops=5)
    darts = DARTSSpace().graph_spec
    assert darts.max_nodes == 30 and darts.path_ops == DARTS_OPS and darts.max_path_ops == 4
    assert darts.vocabulary[0] == INPUT and darts.vocabulary[-1] == OUTPUT and set(DARTS_OPS) < set(darts.ops)


@pytest.mark.parametrize("space", [NASBench201Space(), NASBench101Space(), DARTSSpace(), CHAIN], ids=lambda s: s.name)
def test_graphs_stay_within_the_spec(space):
    spec = space.graph_spec
    for arch in space.sample(100, np.random.default_rng(0)):
        graph = space.to_graph(arch)
        check_node_op_graph(graph)
        assert graph.number_of_nodes() <= spec.max_nodes
        assert {op for _, op in graph.nodes(data="op")} <= set(spec.vocabulary)
        for path in nx.all_simple_paths(graph, 0, max(graph)):
            assert sum(graph.nodes[node]["op"] in spec.path_ops for node in path) <= spec.max_path_ops


def test_a_subset_space_has_its_base_spec_and_no_other_attribute_of_it():
    base = NASBench201Space()
    subset = SubsetSpace(base, base.sample(20, np.random.default_rng(0)))
    assert subset.graph_spec is base.graph_spec and subset.ops == base.ops
    assert not hasattr(subset, "n_edges") and not hasattr(subset, "from_indices")
    members = list(subset.enumerate())
    for name in ("tw", "path", "adjacency"):
        assert torch.equal(make_encoder(name, subset).encode(members), make_encoder(name, base).encode(members))
    assert torch.equal(CATEEncoder(subset).encode(members), CATEEncoder(base).encode(members))


def test_readme_graph_spec_example_runs():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = re.search(r"### Search spaces.*?```python\n(.*?)```", readme, re.S).group(1)
    assert "graph_spec" in example
    exec(example, {})

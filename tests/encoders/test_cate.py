"""CATE: tokens and attention, cost pairs, masking, pretraining, checkpoints and their refusals, the encoder."""

import json
import shutil

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import torch

from bonas import DARTSSpace, NASBench101Space, NASBench101Table, NASBench201Space, Optimizer
from bonas.cli import main
from bonas.encoders import make_encoder
from bonas.encoders.cate import (
    CATEConfig,
    CATEEncoder,
    Tokenizer,
    load_checkpoint,
    packaged_checkpoint,
)
from bonas.encoders.cate.tokens import MASK, PAD
from bonas.networks import build_network, count_params
from bonas.networks.nb101 import nb101_param_count
from bonas.pretraining.cate import IGNORE, corrupt, cost_pairs
from bonas.spaces.graph import graph_to_matrix

NB201 = NASBench201Space()
NB101 = NASBench101Space()
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A one-epoch NB201 checkpoint written by the CLI (small model, so the suite stays fast)."""
    out = tmp_path_factory.mktemp("cate") / "nb201.pt"
    assert main(["pretrain-cate", "--space", "nb201", "--out", str(out), "--epochs", "2", "--d-model", "16",
                 "--heads", "2", "--graph-layers", "1", "--cross-layers", "1", "--batch-size", "2048"]) == 0
    return out


def test_tokens_and_ancestor_attention():
    tokenizer = Tokenizer(("input", "a", "b", "output"), max_nodes=5)
    graph = nx.DiGraph([(0, 1), (0, 2), (1, 3), (2, 3)])
    nx.set_node_attributes(graph, {0: "input", 1: "a", 2: "b", 3: "output"}, "op")
    batch = tokenizer([graph])
    assert batch.tokens.tolist() == [[2, 3, 4, 5, PAD]] and batch.lengths.tolist() == [4]
    attention = batch.attention[0].int().tolist()
    assert attention[3] == [1, 1, 1, 1, 0]  # the output sees the whole cell
    assert attention[1] == [1, 1, 0, 0, 0] and attention[2] == [1, 0, 1, 0, 0]
    assert attention[4] == [0, 0, 0, 0, 1]  # padding attends to itself only
    with pytest.raises(ValueError, match="op 'c' is not in the vocabulary"):
        tokenizer([nx.relabel_nodes(graph, {}) if False else _with_op(graph, 1, "c")])
    with pytest.raises(ValueError, match="6 nodes; this tokenizer takes at most 5"):
        tokenizer([nx.path_graph(6, create_using=nx.DiGraph)])


def _with_op(graph, node, op):
    graph = graph.copy()
    graph.nodes[node]["op"] = op
    return graph


def test_cost_pairs_follow_cate():
    rng = np.random.default_rng(0)
    costs = rng.uniform(0, 100, size=300)
    pairs = cost_pairs(costs, k=2, window=5.0, rng=np.random.default_rng(1))
    first, second = costs[pairs[:, 0]], costs[pairs[:, 1]]
    assert np.all(first >= second) and np.all(first - second <= 5.0) and np.all(pairs[:, 0] != pairs[:, 1])
    assert np.bincount(pairs[:, 0], minlength=300).max() <= 2
    expected = sum(min(2, int(np.sum((costs < c) & (costs >= c - 5.0)))) for c in costs)
    assert len(pairs) == expected


def test_corruption_touches_ops_only():
    tokens = torch.tensor([[2, 3, 4, 5, 6, 8, 0, 0]] * 2000)
    corrupted, labels = corrupt(tokens, n_specials=2, n_tokens=9, rate=0.2, generator=torch.Generator().manual_seed(0))
    chosen = labels != IGNORE
    assert not chosen[:, [0, 5, 6, 7]].any()  # input, output and padding are never predicted
    assert torch.equal(labels[chosen], tokens[chosen])
    assert torch.equal(corrupted[~chosen], tokens[~chosen])
    assert 0.17 < chosen[:, 1:5].float().mean() < 0.23
    assert 0.75 < (corrupted[chosen] == MASK).float().mean() < 0.85
    assert ((corrupted[chosen] >= 3) | (corrupted[chosen] == MASK)).all()


def test_nb101_param_count_equals_the_network_and_the_table():
    table = NASBench101Table()
    for arch in table.architectures()[:300]:
        assert nb101_param_count(*graph_to_matrix(NB101.to_graph(arch))) == table.query(arch).params
    for arch in NB101.sample(3, np.random.default_rng(0)):
        network = build_network(NB101, arch, num_classes=10, channels=16, cells_per_stage=1)
        assert nb101_param_count(*graph_to_matrix(NB101.to_graph(arch)), channels=16, cells_per_stage=1) == \
            count_params(network)


def test_pretraining_learns_and_the_encoder_is_deterministic(tiny_checkpoint):
    meta = json.loads(tiny_checkpoint.with_suffix(".json").read_text())
    history = meta["training"]["history"]
    assert meta["space"] == "nb201" and meta["training"]["architectures"] == 15625
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["valid_accuracy"] > 1 / 5  # better than guessing among the five ops
    encoder = CATEEncoder(NB201, checkpoint=tiny_checkpoint)
    archs = NB201.sample(40, np.random.default_rng(0))
    X = encoder.encode(archs)
    assert X.shape == (40, 16) and X.dtype == torch.float64 and torch.isfinite(X).all()
    assert torch.equal(X, CATEEncoder(NB201, checkpoint=tiny_checkpoint).encode(archs))


def test_encoding_ignores_node_numbering(tiny_checkpoint):
    encoder = CATEEncoder(NB201, checkpoint=tiny_checkpoint)
    graph = NB201.to_graph(NB201.from_str(BEST))
    inner = list(range(1, graph.number_of_nodes() - 1))
    shuffled = dict(zip(inner, np.random.default_rng(0).permutation(inner).tolist()))
    relabelled = nx.relabel_nodes(graph, shuffled)
    relabelled = nx.relabel_nodes(relabelled, {node: node for node in relabelled})
    torch.testing.assert_close(encoder.encode_graphs([graph]), encoder.encode_graphs([relabelled]),
                               rtol=0, atol=1e-6)


def test_checkpoints_of_another_kind_are_refused(tiny_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="trained for space 'nb201', not 'nb101'"):
        load_checkpoint(tiny_checkpoint, NB101)
    copy = tmp_path / "old.pt"
    shutil.copy(tiny_checkpoint, copy)
    meta = json.loads(tiny_checkpoint.with_suffix(".json").read_text())
    copy.with_suffix(".json").write_text(json.dumps({**meta, "version": 0}))
    with pytest.raises(ValueError, match="model version 0; this bonas reads version 1"):
        load_checkpoint(copy, NB201)
    copy.with_suffix(".json").write_text(json.dumps({**meta, "vocabulary": ["input", "output"]}))
    with pytest.raises(ValueError, match="op vocabulary"):
        load_checkpoint(copy, NB201)
    copy.with_suffix(".json").write_text(json.dumps({**meta, "config": {**meta["config"], "n_heads": 3}}))
    with pytest.raises(ValueError, match="bad model config: d_model 16 is not a multiple of n_heads 3"):
        load_checkpoint(copy, NB201)
    copy.with_suffix(".json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="is not a bonas CATE checkpoint \\(format 'a JSON list'"):
        load_checkpoint(copy, NB201)
    copy.with_suffix(".json").write_text(json.dumps(meta))
    copy.write_bytes(b"not a state dict")
    with pytest.raises(ValueError, match="unreadable or mismatched weights"):
        load_checkpoint(copy, NB201)
    copy.with_suffix(".json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_checkpoint(copy, NB201)
    with pytest.raises(FileNotFoundError, match="bonas pretrain-cate --space nb201 --out"):
        load_checkpoint(tmp_path / "missing.pt", NB201)


def test_pretrain_cli_refuses_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["pretrain-cate", "--space", "nasbench500", "--out", str(tmp_path / "x.pt")])
    with pytest.raises(SystemExit):
        main(["pretrain-cate", "--out", str(tmp_path / "x.pt"), "--epochs", "0"])
    for arguments, message in ((["--out", str(tmp_path / "x.bin")], "ends in .pt"),
                               (["--out", str(tmp_path / "x.pt"), "--heads", "3"], "not a multiple of n_heads 3"),
                               (["--out", str(tmp_path / "x.pt"), "--window", "-1"], "window must be positive")):
        assert main(["pretrain-cate", *arguments]) == 2
        assert message in " ".join(capsys.readouterr().out.split())
    assert not (tmp_path / "x.pt").exists()
    with pytest.raises(ValueError, match="CATEConfig.graph_layers must be an integer >= 1, got 0"):
        CATEConfig(n_tokens=5, max_nodes=7, graph_layers=0)


@pytest.mark.parametrize("space", [NB201, NB101, DARTSSpace()], ids=lambda s: s.name)
def test_shipped_checkpoints(space):
    path = packaged_checkpoint(space.name)
    assert path.stat().st_size < 5 * 2**20
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["training"]["command"].startswith(f"bonas pretrain-cate --space {space.name}")
    encoder = make_encoder("cate", space)
    X = encoder.encode(space.sample(8, np.random.default_rng(0)))
    assert X.shape == (8, encoder.dim) and torch.isfinite(X).all()


def test_optimizer_with_cate(tiny_checkpoint):
    opt = Optimizer(NB201, encoding="cate", checkpoint=tiny_checkpoint, n_initial=4, seed=0, device="cpu")
    for _ in range(6):
        trial = opt.ask()[0]
        opt.tell(trial, float(np.random.default_rng(trial.id).uniform(80, 95)))
    assert len(opt.completed) == 6 and opt.last_fit
    with pytest.raises(ValueError, match="checkpoint is for encoding='cate'"):
        Optimizer(NB201, encoding="tw", checkpoint=tiny_checkpoint)


def test_live_cells_keep_every_node():
    from bonas.pretraining.costs import live_cells

    cells = live_cells(NB101, 300, np.random.default_rng(0))
    for cell in cells:
        NB101.validate(cell)
        assert NB101.to_graph(cell).number_of_nodes() == 7 and np.sum(cell.matrix) <= 9
    assert len({NB101.canonical_key(cell) for cell in cells}) > 250


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_property_nb101_encodings_ignore_inner_node_numbering(tiny_nb101_checkpoint, seed):
    rng = np.random.default_rng(seed)
    graph = NB101.to_graph(NB101.sample(1, rng)[0])
    inner = list(range(1, graph.number_of_nodes() - 1))
    relabelled = nx.relabel_nodes(graph, dict(zip(inner, rng.permutation(inner).tolist())))
    encoder = CATEEncoder(NB101, checkpoint=tiny_nb101_checkpoint)
    torch.testing.assert_close(encoder.encode_graphs([graph]), encoder.encode_graphs([relabelled]), rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def tiny_nb101_checkpoint(tmp_path_factory):
    """An untrained-size NB101 model saved as a checkpoint (weights random but fixed: invariance holds for any)."""
    from bonas.encoders.cate import CATEConfig, CATEModel, save_checkpoint
    from bonas.encoders.base import graph_vocabulary

    torch.manual_seed(0)
    model = CATEModel(CATEConfig(n_tokens=len(graph_vocabulary(NB101)) + 2, max_nodes=7, d_model=16, n_heads=2,
                                 graph_layers=2, cross_layers=1)).eval()
    path = tmp_path_factory.mktemp("cate101") / "nb101.pt"
    save_checkpoint(path, model, NB101, training={"command": "random weights for a property test"})
    return path


@pytest.mark.slow
def test_nb101_param_count_equals_the_table_on_every_cell():
    table = NASBench101Table()
    wrong = [arch for arch in table.architectures()
             if nb101_param_count(*graph_to_matrix(NB101.to_graph(arch))) != table.query(arch).params]
    assert wrong == []

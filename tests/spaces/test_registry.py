"""The space registry: what the built-in entries declare, and a user's space registered once reaching every reader."""

import argparse
import shutil

import numpy as np
import pytest
import torch
from torch import nn

import bonas
from bonas.cli import build_parser
from bonas.networks import build_network
from bonas.networks.build import cell_network, nb201_network
from bonas.networks.darts import darts_network
from bonas.pretraining.cate import space_architectures
from bonas.replay.benchmark import ReplaySpec, make_benchmark
from bonas.spaces.registry import (SPACES, SpaceEntry, declared, register_space, space_from_name, space_names,
                                   unregister_space)


@pytest.fixture
def own_registry():
    """The spaces a test registers are removed after it; the built-in entries stay as they were."""
    built_in = list(SPACES)
    yield
    for name in [name for name in SPACES if name not in built_in]:
        unregister_space(name)
    assert list(SPACES) == built_in


def tiny_space() -> bonas.CellSpace:
    """Cells of at most four nodes over two ops no built-in network builder knows."""
    return bonas.CellSpace(["conv", "pool"], max_nodes=4, max_edges=4, name="tiny")


def space_action(command: str) -> argparse.Action:
    subcommands = next(action for action in build_parser()._actions if action.dest == "command")
    return next(action for action in subcommands.choices[command]._actions if action.dest == "space")


def space_choices(command: str) -> tuple[str, ...]:
    return tuple(space_action(command).choices)


def test_the_built_in_entries_declare_what_bonas_can_do_with_each_space():
    assert space_names() == ("nb201", "nb101", "darts")
    assert space_names("network_builder") == space_names("cost_model") == ("nb201", "nb101", "darts")
    assert space_names("replay_tables") == ("nb201", "nb101")
    assert declared("nb201", "network_builder") is nb201_network
    assert declared("nb101", "network_builder") is cell_network
    assert declared("darts", "network_builder") is darts_network and declared("unknown", "cost_model") is None
    assert space_choices("replay") == ("nb201", "nb101")
    assert "nb201, nb101, darts" in space_action("search").help
    assert "nb201, nb101, darts" in space_action("pretrain-cate").help
    assert isinstance(space_from_name("darts"), bonas.DARTSSpace)


def test_a_registered_space_is_built_by_name_trained_resumed_and_offered(own_registry, tmp_path):
    built = []

    def tiny_network(space, arch, num_classes, in_channels, channels, cells_per_stage):
        built.append((space.to_str(arch), num_classes, in_channels, channels, cells_per_stage))
        return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_classes))

    register_space(SpaceEntry("tiny", tiny_space, network_builder=tiny_network))
    space = space_from_name("tiny")
    assert isinstance(space, bonas.CellSpace) and space.name == "tiny"
    arch = space.sample(1, np.random.default_rng(0))[0]
    network = build_network(space, arch, 3, in_channels=1, channels=8)
    assert network(torch.zeros(2, 1, 4, 4)).shape == (2, 3)
    assert built == [(space.to_str(arch), 3, 1, 8, None)]
    assert "nb201, nb101, darts, tiny" in space_action("search").help
    assert "tiny" not in space_choices("replay")

    path = tmp_path / "tiny.jsonl"
    opt = bonas.Optimizer(space, n_initial=2, seed=0, storage=path, encoding="path")
    for trial in opt.ask(3):
        opt.tell(trial, float(trial.id))
    shutil.copy(path, tmp_path / "copy.jsonl")  # one writer per journal: the twin gets a copy
    loaded = bonas.Optimizer.load(tmp_path / "copy.jsonl")
    assert loaded.space.name == "tiny" and loaded.space is not space
    assert [(t.arch_str, t.value) for t in loaded.trials] == [(t.arch_str, t.value) for t in opt.trials]
    assert [t.arch_str for t in loaded.ask(2)] == [t.arch_str for t in opt.ask(2)]


def test_a_registered_cost_model_and_replay_tables_are_used(own_registry):
    def tiny_costs(space, n_samples, seed):
        archs = space.sample(n_samples, np.random.default_rng(seed))
        return archs, [float(len(space.to_str(arch))) for arch in archs], "characters"

    sentinel = object()
    register_space(SpaceEntry("tiny", tiny_space, cost_model=tiny_costs,
                              replay_tables=lambda spec: (sentinel, spec.queries)))
    archs, costs, cost_name = space_architectures(space_from_name("tiny"), 5, seed=0)
    assert len(archs) == 5 and costs.dtype == np.float64 and cost_name == "characters"
    assert make_benchmark(ReplaySpec(space="tiny", queries=7)) == (sentinel, 7)
    assert space_choices("replay") == ("nb201", "nb101", "tiny")


def test_parts_named_by_import_strings_load_on_use(own_registry):
    register_space(SpaceEntry("tiny", tiny_space, network_builder="bonas.networks.build:cell_network"))
    assert SPACES["tiny"].network_builder == "bonas.networks.build:cell_network"
    assert declared("tiny", "network_builder") is cell_network
    with pytest.raises(ValueError, match=r"no module for ops \['conv', 'pool'\] of space 'tiny'"):
        space = space_from_name("tiny")
        build_network(space, space.sample(1, np.random.default_rng(0))[0], 10)


def test_bad_registrations_and_names_are_refused(own_registry):
    with pytest.raises(ValueError, match="space 'nb201' is already registered"):
        register_space(SpaceEntry("nb201", bonas.NASBench201Space))
    with pytest.raises(ValueError, match="network_builder of space 'x' must be a callable or a 'package.module:name'"):
        SpaceEntry("x", tiny_space, network_builder="bonas.networks.build")
    with pytest.raises(ValueError, match="factory of space 'x' must be callable"):
        SpaceEntry("x", tiny_space())
    with pytest.raises(ValueError, match="non-empty string"):
        register_space(SpaceEntry("", tiny_space))
    with pytest.raises(ValueError, match="a space registry takes a SpaceEntry"):
        register_space(tiny_space)
    register_space(SpaceEntry("misnamed", tiny_space))
    with pytest.raises(ValueError, match="registered as space 'misnamed' built a space named 'tiny'"):
        space_from_name("misnamed")
    with pytest.raises(ValueError, match=r"unknown space 'nope'; expected one of \['nb201', 'nb101', 'darts', 'misnamed'"):
        space_from_name("nope")
    with pytest.raises(ValueError, match="unknown part 'tables' of a space entry"):
        space_names("tables")
    with pytest.raises(ValueError, match="unknown replay space 'darts'; expected one of \\['nb201', 'nb101'\\]"):
        make_benchmark(ReplaySpec(space="darts"))
    with pytest.raises(ValueError, match=r"space 'tiny' has no cost model in the space registry \(those with one: "
                                         r"\['nb201', 'nb101', 'darts'\]\) and its networks cannot be built"):
        space_architectures(tiny_space(), 10, seed=0)

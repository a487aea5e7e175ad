"""A CATE checkpoint's config is checked against sane bounds and its weights before any model is built."""

import json
import re
import shutil

import pytest
import torch

from bonas import NASBench101Space, NASBench201Space
from bonas.encoders.cate import load_checkpoint, packaged_checkpoint
from bonas.encoders.cate.model import CATEModel

SPACES = {"nb201": NASBench201Space(), "nb101": NASBench101Space()}


@pytest.fixture(params=sorted(SPACES))
def shipped_copy(request, tmp_path):
    """A copy of a shipped checkpoint, its config, its space and a function that rewrites the config."""
    source = packaged_checkpoint(request.param)
    path = tmp_path / source.name
    shutil.copy(source, path)
    meta = json.loads(source.with_suffix(".json").read_text())

    def edit(**config):
        path.with_suffix(".json").write_text(json.dumps({**meta, "config": {**meta["config"], **config}}))

    edit()
    return path, SPACES[request.param], edit


@pytest.fixture
def no_model_is_built(monkeypatch):
    """Fails the test if a refused config gets as far as building a model."""
    def refuse(self, config):
        raise AssertionError(f"a CATEModel was built for {config}")
    monkeypatch.setattr(CATEModel, "__init__", refuse)


@pytest.mark.parametrize("field, value, message", [
    ("d_model", 10**9, "config d_model is 1000000000, above the largest bonas builds (4096)"),
    ("graph_layers", 10**6, "config graph_layers is 1000000, above the largest bonas builds (64)"),
    ("cross_layers", 10**6, "config cross_layers is 1000000, above the largest bonas builds (64)"),
    ("d_ff", 10**9, "config d_ff is 1000000000, above the largest bonas builds (16384)"),
])
def test_a_huge_config_is_refused_before_anything_is_allocated(shipped_copy, no_model_is_built, field, value,
                                                               message):
    path, space, edit = shipped_copy
    edit(**{field: value})
    with pytest.raises(ValueError, match=re.escape(message)):
        load_checkpoint(path, space)


def test_max_nodes_must_be_the_spaces_largest_graph(shipped_copy, no_model_is_built):
    path, space, edit = shipped_copy
    edit(max_nodes=10**9)
    with pytest.raises(ValueError, match=f"config max_nodes is 1000000000; space '{space.name}' needs \\d"):
        load_checkpoint(path, space)


@pytest.mark.parametrize("field, value", [("d_model", 32), ("graph_layers", 3), ("cross_layers", 1), ("d_ff", 64)])
def test_a_config_unlike_its_weights_is_named(shipped_copy, no_model_is_built, field, value):
    path, space, edit = shipped_copy
    edit(**{field: value})
    with pytest.raises(ValueError, match=f"config {field} is {value}, but its weights have \\d+"):
        load_checkpoint(path, space)


def test_weights_that_are_not_a_state_dict_are_named(shipped_copy, no_model_is_built):
    path, space, _ = shipped_copy
    torch.save([torch.zeros(2)], path)
    with pytest.raises(ValueError, match="holds a list, not a state dict of tensors"):
        load_checkpoint(path, space)


def test_the_unchanged_config_still_loads(shipped_copy):
    path, space, _ = shipped_copy
    model, meta = load_checkpoint(path, space)
    assert model.config.to_dict() == meta["config"]
    assert not model.training

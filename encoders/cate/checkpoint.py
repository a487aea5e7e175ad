"""CATE checkpoints: a torch state dict (read with ``weights_only=True``) and a JSON of what it is.

``<name>.pt`` holds the weights, ``<name>.json`` the format and version, the
space and its op vocabulary, the model config and how it was trained. Loading
refuses a checkpoint of another space, vocabulary or model version, naming
which, and checks every size of the config against sane bounds and against the
shapes of the weights before a model is built, so a config edited to ask for a
huge model fails at once with a ``ValueError`` instead of allocating it. bonas
ships ``nb201``, ``nb101`` and ``darts`` checkpoints as package data.
"""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from bonas.encoders.base import graph_vocabulary, max_graph_nodes
from bonas.encoders.cate.model import CATEConfig, CATEModel
from bonas.encoders.cate.tokens import SPECIAL_TOKENS
from bonas.files import atomic_write
from bonas.spaces.base import Space

FORMAT = "bonas-cate"
VERSION = 1
"""Bumped whenever :class:`CATEModel`'s layers or the tokenisation change."""
MAX_SIZES = {"d_model": 4096, "n_heads": 256, "graph_layers": 64, "cross_layers": 64, "d_ff": 16384}
"""The largest config sizes a checkpoint may ask for, checked before its weights are even read."""


def packaged_checkpoint(space_name: str) -> Path:
    """Where the checkpoint bonas ships for ``space_name`` lives (it may not exist)."""
    return Path(str(resources.files("bonas.encoders.cate").joinpath("checkpoints", f"{space_name}.pt")))


def metadata_path(path: Path) -> Path:
    return path.with_suffix(".json")


def check_checkpoint_path(path: str | Path) -> Path:
    """``path`` as a ``Path``; ``ValueError`` unless it ends in ``.pt``."""
    path = Path(path)
    if path.suffix != ".pt":
        raise ValueError(f"a CATE checkpoint path ends in .pt, got {str(path)!r}")
    return path


def save_checkpoint(path: str | Path, model: CATEModel, space: Space, training: dict[str, Any]) -> Path:
    """Write ``path`` (weights) and its ``.json`` atomically; returns the JSON's path."""
    path = check_checkpoint_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({name: value.detach().cpu() for name, value in model.state_dict().items()}, buffer)
    atomic_write(path, buffer.getvalue())
    meta = {"format": FORMAT, "version": VERSION, "space": space.name, "vocabulary": list(graph_vocabulary(space)),
            "config": model.config.to_dict(), "training": training}
    atomic_write(metadata_path(path), (json.dumps(meta, indent=2) + "\n").encode())
    return metadata_path(path)


def how_to_make_checkpoint(space: Space) -> str:
    """What a user can run to get a CATE checkpoint for ``space``: a command that works where they are, writing
    under ``runs/`` in the working directory, never a path inside the installed package."""
    from bonas.spaces.cell import CellSpace
    from bonas.spaces.registry import SPACES

    out = f"runs/cate-{space.name}.pt"
    use = f"and pass checkpoint='{out}'"
    if space.name in SPACES and type(SPACES[space.name].factory()) is type(space):
        return f"make one with `bonas pretrain-cate --space {space.name} --out {out}` {use}"
    if isinstance(space, CellSpace):
        description = json.dumps({"name": space.name, "ops": list(space.ops), "max_nodes": space.n_nodes,
                                  "max_edges": space.max_edges})
        return (f"write this space as a file, e.g. {space.name}.json holding {description} (add \"op_modules\": "
                f"\"package.module:attribute\" for ops other than NAS-Bench-101's), make one with `bonas "
                f"pretrain-cate --space {space.name}.json --out {out}` (or --space package.module:attribute naming "
                f"this space) {use}")
    return (f"make one with `bonas pretrain-cate --space package.module:attribute --out {out}`, where "
            f"package.module:attribute names this space (its networks must be buildable, or register a "
            f"cost_model: docs/extending.md) {use}")


def load_checkpoint(path: str | Path, space: Space) -> tuple[CATEModel, dict[str, Any]]:
    """The model of a checkpoint for ``space`` in eval mode, and its metadata.

    :raises FileNotFoundError: no checkpoint at ``path`` (the message says how to make one).
    :raises ValueError: a checkpoint of another format, version, space or vocabulary, a config size out of
        bounds or unlike its weights' shapes (checked before the model is built), or corrupt weights.
    """
    path = Path(path)
    if not path.exists() or not metadata_path(path).exists():
        missing = path if not path.exists() else metadata_path(path)
        raise FileNotFoundError(f"no CATE checkpoint for space {space.name!r}: {missing} does not exist; "
                                f"{how_to_make_checkpoint(space)}")
    try:
        meta = json.loads(metadata_path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"CATE checkpoint metadata {metadata_path(path)} is not valid JSON ({error}); "
                         f"{how_to_make_checkpoint(space)}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else f"a JSON {type(meta).__name__}"
        raise ValueError(f"{metadata_path(path)} is not a bonas CATE checkpoint (format {found!r}, "
                         f"expected {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise ValueError(f"CATE checkpoint {path} is model version {meta.get('version')!r}; this bonas reads "
                         f"version {VERSION}; {how_to_make_checkpoint(space)}")
    if meta.get("space") != space.name:
        raise ValueError(f"CATE checkpoint {path} was trained for space {meta.get('space')!r}, not {space.name!r}")
    if meta.get("vocabulary") != list(graph_vocabulary(space)):
        raise ValueError(f"CATE checkpoint {path} has op vocabulary {meta.get('vocabulary')}; space {space.name!r} "
                         f"has {list(graph_vocabulary(space))}")
    try:
        config = CATEConfig(**meta["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"CATE checkpoint {path} has a bad model config: {error}") from None
    check_config(config, space, path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"CATE checkpoint {path} has unreadable or mismatched weights: {error}") from None
    check_weight_shapes(config, state, path)
    model = CATEModel(config)
    try:
        model.load_state_dict(state)
    except Exception as error:
        raise ValueError(f"CATE checkpoint {path} has unreadable or mismatched weights: {error}") from None
    return model.eval(), meta


def check_config(config: CATEConfig, space: Space, path: Path) -> None:
    """``ValueError`` unless every size of ``config`` is within :data:`MAX_SIZES` and fits ``space``.

    ``max_nodes`` must be the space's largest graph and ``n_tokens`` its vocabulary plus the special tokens,
    as ``bonas pretrain-cate`` writes them.
    """
    for name, bound in MAX_SIZES.items():
        if getattr(config, name) > bound:
            raise ValueError(f"CATE checkpoint {path} config {name} is {getattr(config, name)}, above the "
                             f"largest bonas builds ({bound})")
    expected = {"max_nodes": max_graph_nodes(space), "n_tokens": len(SPECIAL_TOKENS) + len(graph_vocabulary(space))}
    for name, value in expected.items():
        if getattr(config, name) != value:
            raise ValueError(f"CATE checkpoint {path} config {name} is {getattr(config, name)}; space "
                             f"{space.name!r} needs {value}")


def check_weight_shapes(config: CATEConfig, state: Any, path: Path) -> None:
    """``ValueError`` unless the state dict ``state`` has the layer count and widths ``config`` names."""
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError(f"CATE checkpoint {path} holds a {type(state).__name__}, not a state dict of tensors")
    layer_counts = {
        name: len({key.split(".")[2] for key in state if key.startswith(f"{encoder}.layers.")})
        for name, encoder in (("graph_layers", "graph_encoder"), ("cross_layers", "cross_encoder"))
    }
    shapes = {
        "n_tokens": ("op_embedding.weight", 0), "d_model": ("op_embedding.weight", 1),
        "d_ff": ("graph_encoder.layers.0.linear1.weight", 0),
    }
    found = dict(layer_counts)
    for name, (key, dim) in shapes.items():
        if key not in state or state[key].ndim != 2:
            raise ValueError(f"CATE checkpoint {path} has no 2-d weight {key!r}, so config {name} cannot be checked")
        found[name] = state[key].shape[dim]
    for name, value in found.items():
        if getattr(config, name) != value:
            raise ValueError(f"CATE checkpoint {path} config {name} is {getattr(config, name)}, but its weights "
                             f"have {value}")

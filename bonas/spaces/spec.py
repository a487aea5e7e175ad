"""A space named on the command line: a registered name, a Python attribute, or a small cell-space file.

``bonas search --space`` and ``bonas pretrain-cate --space`` take any of

* a name in the space registry (``nb201``, ``nb101``, ``darts``, or one a user registered);
* ``package.module:attribute``: the module is imported, from the Python path or the working directory (so
  it may call :func:`~bonas.register_space`) and the
  attribute is a :class:`~bonas.spaces.Space`, a :class:`~bonas.spaces.SpaceEntry` (registered if its name is
  free) or a callable returning either; a module may also define ``OP_MODULES`` beside a
  :class:`~bonas.spaces.CellSpace`, a mapping op name -> ``channels -> nn.Module`` for its networks;
* a ``.json`` or ``.toml`` file describing a :class:`~bonas.spaces.CellSpace`::

      {"name": "mycell", "ops": ["conv3x3", "conv5x5", "maxpool", "identity"],
       "max_nodes": 7, "max_edges": 9, "op_modules": "mypackage.ops:OP_MODULES"}

  ``op_modules`` (optional) names the op modules as ``package.module:attribute``.

The result is the space and the network options its networks need (``op_modules``), which evaluators take as
``network_options`` and which the CATE cost model uses to build networks.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bonas.spaces.base import Space
from bonas.spaces.cell import CellSpace
from bonas.spaces.registry import SPACES, SpaceEntry, register_space, space_from_name, space_names

SPACE_FILE_KEYS = ("name", "ops", "max_nodes", "max_edges", "op_modules")


@dataclass(frozen=True)
class SpaceSpec:
    """A space and the options its networks are built with.

    :param space: the space.
    :param network_options: extra :func:`~bonas.networks.build_network` options, e.g. ``{"op_modules": ...}``.
    :param source: what named it (a registry name, ``module:attribute`` or a file path), for messages.
    """

    space: Space
    network_options: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def load_space(text: str) -> SpaceSpec:
    """The space ``text`` names (see the module docs); ``ValueError`` saying what is wrong otherwise."""
    if text.endswith((".json", ".toml")):
        return _from_file(Path(text))
    if ":" in text:
        return _from_attribute(text)
    if text not in SPACES:
        raise ValueError(f"unknown space {text!r}: give a registered name {list(space_names())}, "
                         f"'package.module:attribute' or a .json/.toml cell-space file")
    return SpaceSpec(space_from_name(text), {}, text)


def import_attribute(path: str, what: str) -> Any:
    """The object ``package.module:attribute`` names, the module imported from the Python path or the working
    directory; ``ValueError`` naming ``what`` it was for otherwise."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{what} must be 'package.module:attribute', got {path!r}")
    if os.getcwd() not in sys.path:  # as `python -m` does, so a module beside the user is found; last, shadowing none
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import module {module_name!r} for {what} {path!r}: {error}") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attribute!r} ({what} {path!r})") from None


def _from_attribute(path: str) -> SpaceSpec:
    found = import_attribute(path, "the space")
    if not isinstance(found, (Space, SpaceEntry)) and callable(found):
        found = found()
    if isinstance(found, SpaceEntry):
        if found.name not in SPACES:
            register_space(found)
        elif SPACES[found.name] != found:
            raise ValueError(f"{path} is a SpaceEntry named {found.name!r}, a name already registered to another "
                             f"entry; give your space another name")
        found = found.factory()
    if not isinstance(found, Space):
        raise ValueError(f"{path} is a {type(found).__name__}, not a bonas Space, SpaceEntry or a callable "
                         f"returning one")
    module = importlib.import_module(path.partition(":")[0])
    op_modules = getattr(module, "OP_MODULES", None)
    options = {} if op_modules is None or not isinstance(found, CellSpace) else {
        "op_modules": _check_op_modules(op_modules, f"{module.__name__}.OP_MODULES")}
    return SpaceSpec(found, options, path)


def _from_file(path: Path) -> SpaceSpec:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read space file {path}: {error}") from None
    try:
        description = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"space file {path} is not valid {path.suffix[1:].upper()}: {error}") from None
    if not isinstance(description, dict):
        raise ValueError(f"space file {path} must hold a table of {list(SPACE_FILE_KEYS)}, got a "
                         f"{type(description).__name__}")
    unknown = sorted(set(description) - set(SPACE_FILE_KEYS))
    if unknown or "ops" not in description:
        raise ValueError(f"space file {path}: {'unknown keys ' + str(unknown) if unknown else 'no ops'}; a cell "
                         f"space file has the keys {list(SPACE_FILE_KEYS)} ('ops' required)")
    ops = description["ops"]
    if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
        raise ValueError(f"space file {path}: ops must be a list of op names, got {ops!r}")
    sizes = {key: description[key] for key in ("max_nodes", "max_edges") if key in description}
    for key, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"space file {path}: {key} must be an integer, got {value!r}")
    space = CellSpace(ops, name=str(description.get("name", path.stem)), **sizes)
    options = {}
    if "op_modules" in description:
        where = description["op_modules"]
        if not isinstance(where, str):
            raise ValueError(f"space file {path}: op_modules must be 'package.module:attribute', got {where!r}")
        options["op_modules"] = _check_op_modules(import_attribute(where, "op_modules"), where)
    return SpaceSpec(space, options, str(path))


def _check_op_modules(op_modules: Any, where: str) -> dict[str, Callable[[int], Any]]:
    if not isinstance(op_modules, Mapping) or not all(callable(make) for make in op_modules.values()):
        raise ValueError(f"{where} must map op names to callables 'channels -> nn.Module', got {op_modules!r}")
    return dict(op_modules)

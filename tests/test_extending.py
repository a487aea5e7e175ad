"""docs/extending.md: its code runs as written, and each example component does what its walk-through says."""

import re
import runpy
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from bonas.encoders import (
    ENCODINGS,
    make_encoder,
    register_encoding,
    unregister_encoding,
)

import bonas
from bonas.batch import BATCH_RULES, unregister_batch_rule
from bonas.cli import build_parser
from bonas.replay.strategies import check_method
from bonas.settings import OptimizerSettings
from bonas.spaces import SPACES, register_space, space_from_name, unregister_space
from bonas.spaces.graph import check_node_op_graph

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
FILE_HEADER = re.compile(r"# (\w+)\.py(.*)\n")
"""A block that starts ``# name.py`` is a file; ``# name.py: run it as `python name.py``` is a script."""
REGISTERED = {"opcount": (ENCODINGS, unregister_encoding), "top-q": (BATCH_RULES, unregister_batch_rule),
              "stack": (SPACES, unregister_space)}
MODULES = ("opcount", "topq", "stack", "replay_mine")
ENCODING, BATCH_RULE, SPACE = "Add an encoding", "Add a batch rule", "Add a space"


def doc_blocks() -> list[tuple[str, str]]:
    """(section heading, code) of every Python block of the page, in order."""
    blocks = []
    for section in re.split(r"^## ", DOC.read_text(), flags=re.M)[1:]:
        heading = section.splitlines()[0]
        blocks += [(heading, code) for code in re.findall(r"```python\n(.*?)```", section, re.S)]
    return blocks


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    """The page run in a new folder: files saved there, snippets executed, scripts run as ``__main__``.

    Yields the folder and the namespace of each section's snippet; afterwards the components the page
    registered are unregistered and its modules forgotten, so other tests see the built-in registries.
    """
    folder = tmp_path_factory.mktemp("extending")
    namespaces: dict[str, dict] = {}
    built_in = [list(registry) for registry, _ in REGISTERED.values()]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.syspath_prepend(str(folder))
        try:
            for heading, code in doc_blocks():
                header = FILE_HEADER.match(code)
                if header is None:
                    assert heading not in namespaces, f"section {heading!r} has a second snippet"
                    namespaces[heading] = {"__name__": "__main__"}
                    exec(compile(code, f"{DOC.name}: {heading}", "exec"), namespaces[heading])
                    continue
                path = folder / f"{header.group(1)}.py"
                path.write_text(code)
                if "`python " in header.group(2):
                    with pytest.raises(SystemExit) as stopped:
                        runpy.run_path(str(path), run_name="__main__")
                    assert stopped.value.code == 0
            yield folder, namespaces
        finally:
            for namespace in namespaces.values():
                if isinstance(namespace.get("opt"), bonas.Optimizer):
                    namespace["opt"].close()
            for name, (registry, unregister) in REGISTERED.items():
                if name in registry:
                    unregister(name)
            for module in MODULES:
                sys.modules.pop(module, None)
    assert [list(registry) for registry, _ in REGISTERED.values()] == built_in


def test_every_block_ran(doc):
    folder, namespaces = doc
    assert list(namespaces) == [ENCODING, BATCH_RULE, SPACE]
    assert sorted(path.name for path in folder.glob("*.py")) == sorted(f"{module}.py" for module in MODULES)


def test_the_encoding_counts_the_ops_of_any_graph_spec(doc):
    entry = ENCODINGS["opcount"]
    assert entry.kernel == "matern" and entry.options == () and not entry.on_device
    nb201 = bonas.NASBench201Space()
    encoder = make_encoder("opcount", nb201)
    archs = nb201.sample(30, np.random.default_rng(0))
    X = encoder.encode(archs)
    assert X.shape == (30, len(nb201.graph_spec.ops)) == (30, encoder.dim) and X.dtype == torch.float64
    assert torch.equal(X, encoder.encode(archs))
    assert X.sum(dim=1).tolist() == [nb201.to_graph(arch).number_of_nodes() - 2 for arch in archs]
    stack = make_encoder("opcount", space_from_name("stack"))
    assert stack.encode([("conv3x3", "skip", "conv3x3", "maxpool", "skip")]).tolist() == [[2.0, 0.0, 1.0]]


def test_the_encoding_drives_model_based_asks_and_reloads_by_name(doc, tmp_path):
    documented = doc[1][ENCODING]["opt"]
    assert documented.settings.encoding == "opcount" and len(documented.completed) == 5
    space, table = bonas.NASBench201Space(), bonas.NASBench201Table("cifar10")
    path = tmp_path / "opcount.jsonl"
    live = bonas.Optimizer(space, encoding="opcount", n_initial=3, pool_size=30, seed=1, storage=path,
                           deterministic=True)
    for _ in range(4):
        for trial in live.ask(1):
            live.tell(trial, table.query(trial.arch).test_accuracy)
    assert live.last_fit == "fit" and live.last_selection == "greedy"
    assert type(live.surrogate.encoder).__name__ == "OpCountEncoder" and live.surrogate.encoder.dim == 5
    shutil.copy(path, tmp_path / "copy.jsonl")  # one writer per journal: the twin gets a copy
    twin = bonas.Optimizer.load(tmp_path / "copy.jsonl")
    assert twin.surrogate.kernel_state_json() == live.surrogate.kernel_state_json()
    assert [trial.arch_str for trial in twin.ask(2)] == [trial.arch_str for trial in live.ask(2)]
    assert twin.last_fit == live.last_fit == "fit"
    live.close()
    twin.close()


def test_a_journal_needs_its_components_registered(doc, tmp_path):
    folder, namespaces = doc
    for name, registry, register, unregister, error, message in (
        ("opcount", ENCODINGS, register_encoding, unregister_encoding, ValueError,
         r"written with encoding 'opcount', which is not registered in this process; import the module"),
        ("stack", SPACES, register_space, unregister_space, ValueError,
         r"journal of space 'stack', which bonas cannot build by name; pass it"),
    ):
        journal = tmp_path / f"{name}.jsonl"
        shutil.copy(folder / "runs" / f"{name}.jsonl", journal)
        entry = registry[name]
        unregister(name)
        try:
            with pytest.raises(error, match=message):
                bonas.Optimizer.load(journal)
        finally:
            register(entry)
        bonas.Optimizer.load(journal).close()


def test_the_batch_rule_chooses_the_q_best_distinct_candidates(doc):
    opt = doc[1][BATCH_RULE]["opt"]
    assert opt.last_selection == "top-q" and opt.last_fit == "fit"
    assert len({trial.arch_str for trial in opt.completed}) == len(opt.completed) == 12
    done = opt.completed
    result = opt.surrogate.fit([trial.arch for trial in done], [trial.value for trial in done])
    candidates_X = opt.surrogate.encode(opt.space.sample(40, np.random.default_rng(0)), cache=False)
    acquisition = bonas.Acquisition("ei")
    rule = BATCH_RULES["top-q"].make(acquisition, OptimizerSettings(space="nb201"))

    def select(pending_X):
        return rule.select(result.model, candidates_X, 5, pending_X=pending_X, best_f=result.best_f,
                           generator=torch.Generator().manual_seed(7))

    chosen = select(None)
    assert len(set(chosen)) == 5 and all(type(index) is int and 0 <= index < 40 for index in chosen)
    scores = acquisition(result.model, candidates_X, result.best_f)
    others = [index for index in range(40) if index not in chosen]
    assert scores[chosen].min() >= scores[others].max()
    pending_X = candidates_X[chosen[:2]]
    with_pending = select(pending_X)
    assert len(set(with_pending)) == 5 and with_pending == select(pending_X)  # seeded by the generator alone


def test_the_batch_rule_is_offered_to_replays_and_the_command_line(doc):
    folder, _ = doc
    assert check_method("tw:top-q") == "tw:top-q" and check_method("opcount:top-q") == "opcount:top-q"
    assert check_method("opcount") == "opcount"
    replay = next(action for action in build_parser()._actions if action.dest == "command").choices["replay"]
    assert "top-q (the q best by acquisition, scored once)" in " ".join(replay.format_help().split())
    rows = (folder / "runs" / "mine" / "trials.csv").read_text().splitlines()[1:]
    methods = [row.split(",")[0] for row in rows]
    assert methods.count("opcount") == methods.count("tw:top-q") == 16 and len(methods) == 32


def test_the_space_keeps_its_contract(doc):
    space = space_from_name("stack")
    assert type(space).__name__ == "StackSpace" and SPACES["stack"].factory is type(space)
    archs = list(space.enumerate())
    assert len(archs) == 4**5 and len({space.canonical_key(arch) for arch in archs}) == 364
    assert all(space.from_str(space.to_str(arch)) == arch for arch in archs)
    spec = space.graph_spec
    for arch in archs[::41]:
        graph = space.to_graph(arch)
        check_node_op_graph(graph)
        assert graph.number_of_nodes() <= spec.max_nodes
        assert {op for _, op in graph.nodes(data="op")} <= set(spec.vocabulary)
        assert all(space.canonical_key(other) != space.canonical_key(arch) for other in space.neighbours(arch))
    assert space.sample(6, np.random.default_rng(3)) == space.sample(6, np.random.default_rng(3))
    with pytest.raises(ValueError, match=r"expected a tuple of 5 ops"):
        space.validate(("conv3x3",))
    for name in ("tw", "path", "wl", "adjacency", "opcount"):
        assert make_encoder(name, space).encode(archs[:8]).shape[0] == 8


def test_the_space_is_searched_and_its_journal_reloads_by_name(doc):
    opt = doc[1][SPACE]["opt"]
    assert type(opt.space).__name__ == "StackSpace" and opt.settings.encoding == "path"
    assert len({opt.space.canonical_key(trial.arch) for trial in opt.completed}) == len(opt.completed) == 8
    trials = opt.ask(2)
    assert opt.last_fit == "fit" and opt.last_selection == "kdpp"
    assert all(trial.arch_str not in {done.arch_str for done in opt.completed} for trial in trials)

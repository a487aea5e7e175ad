"""Every space end to end: DARTS and a user's own cells are built, counted, trained, scored and named on the
command line; a table's cells are built as their base space's."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import bonas
from bonas.cli import main
from bonas.evaluators import NASWOT, TrainingEvaluator, digits
from bonas.networks import build_network, count_flops, count_params
from bonas.networks.darts import PUBLISHED_GENOTYPES, DARTSNetwork, darts_param_count
from bonas.spaces.spec import load_space

DARTS = bonas.DARTSSpace()
USER_OPS = {"conv5x5": lambda c: nn.Sequential(nn.Conv2d(c, c, 5, padding=2, bias=False), nn.BatchNorm2d(c),
                                               nn.ReLU()),
            "identity": lambda c: nn.Identity()}
USER_SPACE = bonas.CellSpace(["conv3x3-bn-relu", "conv5x5", "maxpool3x3", "identity"], max_nodes=5, max_edges=7,
                             name="mycell")


@pytest.fixture(scope="module")
def small_digits():
    train, val = digits(seed=0)
    return (train.x[:96], train.y[:96]), (val.x[:64], val.y[:64])


def test_darts_param_count_equals_the_built_network_for_every_size():
    archs = [*DARTS.sample(6, np.random.default_rng(3)), *PUBLISHED_GENOTYPES.values()]
    sizes = [dict(num_classes=10), dict(num_classes=10, channels=36, layers=20),
             dict(num_classes=100, in_channels=1, channels=8, layers=5)]
    with torch.device("meta"):
        for arch in archs:
            for size in sizes:
                for auxiliary in (False, True):  # the training-only head is not counted, as DARTS counts
                    assert darts_param_count(arch, **size) == count_params(DARTSNetwork(arch, **size,
                                                                                        auxiliary=auxiliary))


def test_a_user_cell_space_is_built_from_its_op_modules():
    arch = bonas.CellArch.from_matrix([[0, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1],
                                       [0, 0, 0, 0, 0]], ["input", "conv5x5", "identity", "maxpool3x3", "output"])
    network = build_network(USER_SPACE, arch, 10, in_channels=1, channels=8, cells_per_stage=1, op_modules=USER_OPS)
    assert network(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    convs = [module for module in network.modules() if isinstance(module, nn.Conv2d) and module.kernel_size == (5, 5)]
    assert len(convs) == 3  # one conv5x5 vertex per cell, three stacks of one cell
    with pytest.raises(ValueError, match=r"no module for ops \['conv5x5', 'identity'\] of space 'mycell'"):
        build_network(USER_SPACE, arch, 10)
    with pytest.raises(ValueError, match=r"op_modules\[.conv5x5.\]\(4\) returned a int, not an nn.Module"):
        build_network(USER_SPACE, arch, 10, channels=8, op_modules={**USER_OPS, "conv5x5": lambda c: 3})


def test_count_flops_is_two_per_multiply_add_and_the_same_on_meta():
    network = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(4 * 8 * 8, 5))
    assert count_flops(network, (3, 8, 8)) == 2 * (9 * 3 * 4 * 8 * 8 + 4 * 8 * 8 * 5)
    arch = PUBLISHED_GENOTYPES["DARTS_V2"]
    real = count_flops(build_network(DARTS, arch, 10, channels=4, cells_per_stage=1), (3, 32, 32))
    with torch.device("meta"):
        meta_network = build_network(DARTS, arch, 10, channels=4, cells_per_stage=1).train()
        assert count_flops(meta_network, (3, 32, 32)) == real > 0
    assert meta_network.training


def test_a_table_subset_is_built_as_its_base_space():
    nb201 = bonas.NASBench201Space()
    members = nb201.sample(3, np.random.default_rng(0))
    subset = bonas.SubsetSpace(nb201, members)
    assert count_params(build_network(subset, members[0], 10)) == count_params(build_network(nb201, members[0], 10))


@pytest.mark.parametrize("space, options", [(DARTS, {"auxiliary": True, "drop_path_prob": 0.2}),
                                            (USER_SPACE, {"op_modules": USER_OPS})], ids=["darts", "user"])
def test_darts_and_user_networks_train_and_are_scored_by_naswot(space, options, small_digits):
    train, val = small_digits
    evaluator = TrainingEvaluator(train, val, epochs=2, batch_size=32, space=space, channels=4, cells_per_stage=1,
                                  network_options=options, grad_clip=5.0, device="cpu", seed=1)
    arch = space.sample(1, np.random.default_rng(2))[0]
    result = evaluator(arch)
    assert 0.0 <= result["value"] <= 100.0 and np.isfinite(result["train_loss"])
    assert result["params"] == count_params(evaluator.build(arch)) > 0
    assert evaluator(arch)["value"] == result["value"]  # seeded
    naswot = NASWOT(train[0], space, batch_size=16, channels=4, cells_per_stage=1, network_options=options,
                    device="cpu")
    score = naswot(arch)["value"]
    assert np.isfinite(score) and naswot(arch)["value"] == score


def test_darts_training_calls_drop_path_progress_and_adds_the_auxiliary_loss(small_digits):
    train, val = small_digits
    seen = []

    class Recording(DARTSNetwork):
        def set_progress(self, fraction):
            seen.append(fraction)
            super().set_progress(fraction)

    evaluator = TrainingEvaluator(train, val, epochs=3, batch_size=48, space=DARTS, channels=4, cells_per_stage=1,
                                  network_options={"auxiliary": True, "drop_path_prob": 0.3}, device="cpu")
    evaluator.build = lambda arch: Recording(arch, 10, 1, 4, 5, auxiliary=True, drop_path_prob=0.3)
    evaluator(PUBLISHED_GENOTYPES["DARTS_V2"])
    assert seen == pytest.approx([0.0, 1 / 3, 2 / 3])
    logits, auxiliary = torch.randn(4, 10), torch.randn(4, 10)
    y = torch.tensor([0, 1, 2, 3])
    expected = nn.functional.cross_entropy(logits, y) + 0.4 * nn.functional.cross_entropy(auxiliary, y)
    assert torch.allclose(evaluator._loss((logits, auxiliary), y), expected)


def test_bonas_search_darts_trains_real_networks_end_to_end(tmp_path, capsys):
    journal = tmp_path / "darts.jsonl"
    assert main(["search", "--space", "darts", "--evaluator", "train", "--epochs", "1", "--channels", "4",
                           "--cells-per-stage", "1", "--batch-size", "128", "--trials", "3", "--n-initial", "2",
                           "--workers", "2", "--journal", str(journal)]) == 0
    trials = bonas.Optimizer.load(journal, read_only=True).trials
    assert [t.state for t in trials] == [bonas.TrialState.COMPLETE] * 3
    assert all(t.info["params"] > 0 and t.info["epochs"] == 1 for t in trials)
    settings = bonas.Optimizer.load(journal, read_only=True).settings
    assert settings.evaluator == "train data=digits epochs=1 seed=0 channels=4 cells_per_stage=1 batch_size=128"


def _write_user_module(folder, name="my_cells"):
    (folder / f"{name}.py").write_text(
        "from torch import nn\n"
        "import bonas\n"
        "SPACE = bonas.CellSpace(['conv3x3-bn-relu', 'conv5x5', 'maxpool3x3'], max_nodes=5, max_edges=7,"
        " name='mycell')\n"
        "OP_MODULES = {'conv5x5': lambda c: nn.Conv2d(c, c, 5, padding=2)}\n")
    return f"{name}:SPACE"


def test_a_space_is_named_by_registry_name_python_attribute_or_file(tmp_path, monkeypatch):
    assert load_space("darts").space.name == "darts" and load_space("darts").network_options == {}
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = load_space(_write_user_module(tmp_path))
    assert spec.space.name == "mycell" and sorted(spec.network_options["op_modules"]) == ["conv5x5"]
    (tmp_path / "cells.json").write_text(json.dumps({"ops": ["conv3x3-bn-relu", "conv5x5"], "max_nodes": 4,
                                                     "op_modules": "my_cells:OP_MODULES"}))
    spec = load_space(str(tmp_path / "cells.json"))
    assert (spec.space.name, spec.space.ops, spec.space.n_nodes) == ("cells", ("conv3x3-bn-relu", "conv5x5"), 4)
    assert callable(spec.network_options["op_modules"]["conv5x5"])
    (tmp_path / "cells.toml").write_text('name = "t"\nops = ["maxpool3x3"]\nmax_edges = 5\n')
    assert load_space(str(tmp_path / "cells.toml")).space.max_edges == 5
    for text, message in [("nope", "unknown space 'nope'"), ("my_cells:NOPE", "has no attribute 'NOPE'"),
                          ("my_cells:OP_MODULES", "is a dict, not a bonas Space"),
                          (str(tmp_path / "missing.json"), "cannot read space file"),
                          ]:
        with pytest.raises(ValueError, match=message):
            load_space(text)
    (tmp_path / "bad.json").write_text(json.dumps({"ops": ["a"], "edges": 3}))
    with pytest.raises(ValueError, match=r"unknown keys \['edges'\]"):
        load_space(str(tmp_path / "bad.json"))
    (tmp_path / "bad.toml").write_text("ops = [")
    with pytest.raises(ValueError, match="is not valid TOML"):
        load_space(str(tmp_path / "bad.toml"))


def test_pretrain_cate_for_a_user_space_writes_a_checkpoint_the_optimizer_uses(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    space = load_space(_write_user_module(tmp_path, "cells_for_cate")).space
    with pytest.raises(FileNotFoundError, match=r"bonas pretrain-cate --space mycell.json --out runs/cate-mycell.pt"):
        bonas.Optimizer(space, encoding="cate")
    out = tmp_path / "runs" / "cate-mycell.pt"
    assert main(["pretrain-cate", "--space", "cells_for_cate:SPACE", "--out", str(out), "--epochs", "1",
                           "--samples", "300", "--d-model", "16", "--heads", "2", "--graph-layers", "1",
                           "--cross-layers", "1", "--batch-size", "256", "--device", "cpu"]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["space"] == "mycell" and meta["training"]["cost"] == "params"
    opt = bonas.Optimizer(space, encoding="cate", checkpoint=out, n_initial=2, seed=0)
    for _ in range(3):
        trial, = opt.ask()
        opt.tell(trial, float(len(trial.arch.ops)))
    assert len(opt.trials) == 3


def test_pretrain_cate_refuses_a_space_whose_networks_cannot_be_built(tmp_path, capsys):
    (tmp_path / "odd.json").write_text(json.dumps({"ops": ["sepconv"], "max_nodes": 4}))
    assert main(["pretrain-cate", "--space", str(tmp_path / "odd.json"), "--out",
                           str(tmp_path / "odd.pt"), "--epochs", "1", "--samples", "50"]) == 2
    printed = " ".join(capsys.readouterr().out.split())
    assert "its networks cannot be built to count their cost: no module for ops ['sepconv']" in printed
    assert not (tmp_path / "odd.pt").exists()


def test_pretraining_costs_darts_by_its_networks_parameters():
    from bonas.pretraining.costs import darts_params, network_costs

    archs, costs, name = darts_params(DARTS, 20, seed=0)
    assert name == "params" and len(archs) == 20
    assert costs.tolist() == network_costs(DARTS, 20, seed=0)[1].tolist()


def test_the_example_cell_space_builds_and_scores_from_the_repository_root(monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    spec = load_space("examples.my_cells:SPACE")
    assert spec.space.name == "my_cells" and sorted(spec.network_options["op_modules"]) == [
        "avgpool3x3", "se3x3", "sepconv5x5"]
    images = torch.rand(16, 1, 8, 8)
    naswot = NASWOT(images, spec.space, batch_size=16, channels=8, cells_per_stage=1,
                    network_options=spec.network_options, device="cpu")
    for arch in spec.space.sample(3, np.random.default_rng(0)):
        assert np.isfinite(naswot(arch)["value"])


def test_flop_budget_counts_on_meta_what_the_network_takes_and_combines_with_a_param_budget():
    build = lambda arch: build_network(DARTS, arch, 10, channels=4, cells_per_stage=1)  # noqa: E731
    archs = DARTS.sample(6, np.random.default_rng(5))
    flops = [count_flops(build(arch), (3, 32, 32)) for arch in archs]
    limit = sorted(flops)[2]
    budget = bonas.FlopBudget(build, limit, (3, 32, 32))
    assert [budget(arch) for arch in archs] == [count <= limit for count in flops] and budget.name == f"flops<={limit}"
    both = bonas.networks.AllOf((bonas.ParamBudget(build, 10**9), budget))
    assert both.name == f"params<=1000000000,flops<={limit}"
    assert [both(arch) for arch in archs] == [budget(arch) for arch in archs]
    with pytest.raises(ValueError, match=r"image_shape must be \(c, h, w\)"):
        bonas.FlopBudget(build, limit, (32, 32))


def test_bonas_search_max_flops_searches_only_cells_under_the_budget(tmp_path):
    journal = tmp_path / "flops.jsonl"
    assert main(["search", "--space", "nb201", "--evaluator", "naswot", "--data", "digits", "--trials", "4",
                 "--workers", "1", "--max-flops", "6000000", "--max-params", "400000", "--journal",
                 str(journal)]) == 0
    opt = bonas.Optimizer.load(journal, read_only=True, feasible=lambda arch: True)
    assert opt.settings.feasible == "params<=400000,flops<=6000000"
    space = bonas.NASBench201Space()
    with torch.device("meta"):
        counts = [count_flops(build_network(space, t.arch, 10, in_channels=1), (1, 8, 8)) for t in opt.trials]
    assert len(counts) == 4 and max(counts) <= 6_000_000


def test_knas_refuses_darts_training_only_options_and_a_taken_space_name_is_refused(small_digits, tmp_path,
                                                                                    monkeypatch):
    with pytest.raises(ValueError, match=r"it scores networks without \['auxiliary', 'drop_path_prob'\]"):
        bonas.KNAS(small_digits[0], DARTS, network_options={"auxiliary": True, "drop_path_prob": 0.2})
    (tmp_path / "taken.py").write_text("import bonas\nENTRY = bonas.SpaceEntry('darts', bonas.DARTSSpace)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="a SpaceEntry named 'darts', a name already registered to another entry"):
        load_space("taken:ENTRY")


def test_a_checkpoint_without_the_new_default_settings_still_resumes(small_digits, tmp_path):
    train, val = small_digits
    evaluator = TrainingEvaluator(train, val, epochs=1, batch_size=48, space=USER_SPACE, channels=4,
                                  cells_per_stage=1, network_options={"op_modules": USER_OPS}, device="cpu",
                                  schedule_epochs=2)
    arch = USER_SPACE.sample(1, np.random.default_rng(1))[0]
    evaluator(arch, fidelity=1, save_path=tmp_path / "one.pt")
    settings = torch.load(tmp_path / "one.pt", weights_only=True)["settings"]
    assert settings["op_modules"] == ["conv5x5", "identity"]
    assert "auxiliary_weight" not in settings and "grad_clip" not in settings
    assert evaluator(arch, fidelity=2, resume_path=tmp_path / "one.pt")["promotion"] == "continued"
    clipped = TrainingEvaluator(train, val, epochs=1, batch_size=48, space=USER_SPACE, channels=4, cells_per_stage=1,
                                network_options={"op_modules": USER_OPS}, device="cpu", schedule_epochs=2,
                                grad_clip=5.0)
    result = clipped(arch, fidelity=2, resume_path=tmp_path / "one.pt")
    assert result["promotion"] == "retrained" and "grad_clip None in the checkpoint, 5.0 here" in result["retrain_reason"]

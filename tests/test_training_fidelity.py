"""TrainingEvaluator at several fidelities: a promotion continues from the lower fidelity's checkpoint exactly."""

import os
import pickle

import cloudpickle
import pytest
import torch

import bonas
from bonas.evaluators import TrainingEvaluator

SPACE = bonas.NASBench201Space()
CELL = SPACE.from_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
OTHER_CELL = SPACE.from_str("|skip_connect~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|skip_connect~2|")
TINY = {"epochs": 2, "batch_size": 16, "lr": 0.1, "channels": 4, "cells_per_stage": 1, "seed": 0, "device": "cpu",
        "augment": True, "num_threads": 1}
PLAIN_KEYS = {"value", "train_loss", "train_time_s", "params", "epochs", "device", "amp"}


@pytest.fixture(autouse=True)
def restored_threads():
    """The evaluators here train on one thread (a busy machine's cores make two spin); later tests get theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def blobs():
    """48 training and 24 validation 1 x 8 x 8 images of 3 classes, each class a shifted Gaussian blob."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(72) % 3
    images = torch.randn(72, 1, 8, 8, generator=generator) + labels.view(-1, 1, 1, 1).float()
    return (images[:48], labels[:48]), (images[48:], labels[48:])


def evaluator_for(blobs, **options):
    return TrainingEvaluator(*blobs, **TINY | {"schedule_epochs": 5} | options)


def load(path):
    return torch.load(path, weights_only=True)


def same_result(result, reference):
    return result["value"] == reference["value"] and result["train_loss"] == reference["train_loss"]


def test_a_promotion_continues_to_the_weights_of_training_from_scratch(blobs, tmp_path):
    evaluator = evaluator_for(blobs)
    scratch = evaluator(CELL, fidelity=5, save_path=tmp_path / "scratch.pt")
    low = evaluator(CELL, fidelity=2, save_path=tmp_path / "trial-3.pt")
    high = evaluator(CELL, fidelity=5, save_path=tmp_path / "trial-7.pt", resume_path=tmp_path / "trial-3.pt")

    assert (scratch["epochs"], scratch["epochs_trained"], scratch["resumed_from_epoch"]) == (5, 5, 0)
    assert "promotion" not in scratch and (low["epochs"], low["epochs_trained"]) == (2, 2)
    assert high["promotion"] == "continued" and "retrain_reason" not in high
    assert (high["epochs"], high["epochs_trained"], high["resumed_from_epoch"]) == (5, 3, 2)
    assert same_result(high, scratch)
    continued, reference = load(tmp_path / "trial-7.pt"), load(tmp_path / "scratch.pt")
    for name, tensor in reference["network"].items():
        assert torch.equal(continued["network"][name], tensor), name
    for index, state in reference["optimizer"]["state"].items():
        assert torch.equal(continued["optimizer"]["state"][index]["momentum_buffer"], state["momentum_buffer"])
    assert continued["optimizer"]["param_groups"][0]["lr"] == reference["optimizer"]["param_groups"][0]["lr"]
    assert continued["schedule"]["last_epoch"] == reference["schedule"]["last_epoch"] == 5 * 3
    assert torch.equal(continued["generator"], reference["generator"])


def test_a_lower_fidelity_is_a_prefix_of_the_schedule_not_a_schedule_of_its_own(blobs):
    prefix = evaluator_for(blobs)(CELL, fidelity=2)
    own_schedule = evaluator_for(blobs, schedule_epochs=None)(CELL, fidelity=2)
    assert prefix["epochs"] == own_schedule["epochs"] == 2
    assert prefix["train_loss"] != own_schedule["train_loss"]


def test_a_plain_call_is_unchanged_and_schedule_epochs_equal_to_epochs_changes_nothing(blobs):
    plain = TrainingEvaluator(*blobs, **TINY)(CELL)
    assert set(plain) == PLAIN_KEYS | {"epochs_trained", "resumed_from_epoch"}
    assert (plain["epochs"], plain["epochs_trained"], plain["resumed_from_epoch"]) == (2, 2, 0)
    assert same_result(TrainingEvaluator(*blobs, **TINY, schedule_epochs=2)(CELL), plain)
    assert same_result(TrainingEvaluator(*blobs, **TINY | {"epochs": 5})(CELL, fidelity=2), plain)


def test_a_missing_checkpoint_retrains_from_scratch_and_says_so(blobs, tmp_path):
    evaluator = evaluator_for(blobs)
    missing = tmp_path / "checkpoints" / "trial-3.pt"
    result = evaluator(CELL, fidelity=3, resume_path=missing)
    assert result["promotion"] == "retrained" and result["retrain_reason"] == f"no checkpoint at {missing}"
    assert (result["epochs"], result["epochs_trained"], result["resumed_from_epoch"]) == (3, 3, 0)
    assert same_result(result, evaluator(CELL, fidelity=3))


@pytest.mark.parametrize("saved_by, saved_arch, reason", [
    ({}, OTHER_CELL, "different architecture: the checkpoint trained |skip_connect~0|"),
    ({"schedule_epochs": 8}, CELL, "schedule differs: the checkpoint follows a 8-epoch cosine schedule, this call a "
                                   "5-epoch one"),
    ({"schedule_epochs": None}, CELL, "schedule differs: the checkpoint follows a 2-epoch"),
    ({"lr": 0.05}, CELL, "settings differ: lr 0.05 in the checkpoint, 0.1 here"),
    ({"seed": 1, "augment": False}, CELL, "settings differ: augment False in the checkpoint, True here; seed 1"),
])
def test_an_incompatible_checkpoint_is_retrained_with_the_reason(blobs, tmp_path, saved_by, saved_arch, reason):
    evaluator_for(blobs, **saved_by)(saved_arch, fidelity=2, save_path=tmp_path / "low.pt")
    evaluator = evaluator_for(blobs)
    result = evaluator(CELL, fidelity=3, resume_path=tmp_path / "low.pt")
    assert result["promotion"] == "retrained" and result["retrain_reason"].startswith(reason)
    assert result["resumed_from_epoch"] == 0 and result["epochs_trained"] == 3
    assert same_result(result, evaluator(CELL, fidelity=3))


def test_a_checkpoint_at_or_beyond_the_fidelity_or_unreadable_is_retrained(blobs, tmp_path):
    evaluator = evaluator_for(blobs)
    evaluator(CELL, fidelity=3, save_path=tmp_path / "three.pt")
    result = evaluator(CELL, fidelity=3, resume_path=tmp_path / "three.pt")
    assert result["retrain_reason"] == "the checkpoint has 3 epochs, not fewer than fidelity 3"
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    result = evaluator(CELL, fidelity=1, resume_path=tmp_path / "broken.pt")
    assert result["promotion"] == "retrained" and result["retrain_reason"] == (
        f"unreadable checkpoint at {tmp_path / 'broken.pt'}: UnpicklingError: weights_only=True refused it "
        "(corrupt, or not plain tensors and containers)")
    (tmp_path / "truncated.pt").write_bytes((tmp_path / "three.pt").read_bytes()[:500])
    result = evaluator(CELL, fidelity=1, resume_path=tmp_path / "truncated.pt")
    assert result["retrain_reason"].startswith(f"unreadable checkpoint at {tmp_path / 'truncated.pt'}: ")
    torch.save({"network": {}}, tmp_path / "foreign.pt")
    result = evaluator(CELL, fidelity=1, resume_path=tmp_path / "foreign.pt")
    assert result["retrain_reason"] == f"{tmp_path / 'foreign.pt'} is not a TrainingEvaluator checkpoint"


def test_fidelity_and_schedule_epochs_are_checked(blobs):
    evaluator = evaluator_for(blobs)
    for fidelity in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="fidelity must be an integer >= 1, got"):
            evaluator(CELL, fidelity=fidelity)
    with pytest.raises(ValueError, match="fidelity 6 exceeds schedule_epochs 5"):
        evaluator(CELL, fidelity=6)
    with pytest.raises(ValueError, match="schedule_epochs must be an integer >= 1, got 0"):
        evaluator_for(blobs, schedule_epochs=0)
    with pytest.raises(ValueError, match="epochs 6 exceeds schedule_epochs 5"):
        evaluator_for(blobs, epochs=6)


def test_the_checkpoint_is_written_atomically_and_loads_with_weights_only(blobs, tmp_path, monkeypatch):
    folder = tmp_path / "run" / "checkpoints"
    evaluator = evaluator_for(blobs)
    evaluator(CELL, fidelity=2, save_path=str(folder / "trial-7.pt"))
    assert os.listdir(folder) == ["trial-7.pt"]
    checkpoint = load(folder / "trial-7.pt")
    assert checkpoint["arch"] == SPACE.to_str(CELL)
    assert (checkpoint["epochs_done"], checkpoint["schedule_epochs"]) == (2, 5)
    assert checkpoint["generator"].dtype == torch.uint8 and checkpoint["scaler"] == {}
    assert checkpoint["network"].keys() == evaluator.build(CELL).state_dict().keys()
    assert checkpoint["settings"]["lr"] == 0.1 and checkpoint["settings"]["train_images"] == 48

    def interrupted(descriptor):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluator(CELL, fidelity=1, save_path=folder / "trial-7.pt")
    assert os.listdir(folder) == ["trial-7.pt"] and load(folder / "trial-7.pt")["epochs_done"] == 2


def test_the_evaluator_stays_picklable_and_resumes_after_pickling(blobs, tmp_path):
    evaluator = evaluator_for(blobs)
    evaluator(CELL, fidelity=1, save_path=tmp_path / "low.pt")
    reference = evaluator(CELL, fidelity=2)
    for module in (pickle, cloudpickle):
        copied = module.loads(module.dumps(evaluator))
        result = copied(CELL, fidelity=2, resume_path=tmp_path / "low.pt")
        assert result["promotion"] == "continued" and same_result(result, reference)

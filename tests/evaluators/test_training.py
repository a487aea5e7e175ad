"""TrainingEvaluator on scikit-learn's digits: learns, repeats, fails clearly, and never stops a search."""

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

import bonas
from bonas.backends.base import call_evaluate
from bonas.evaluators import TrainingEvaluator

SPACE = bonas.NASBench201Space()
CELL = SPACE.from_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
TINY = {"epochs": 3, "batch_size": 64, "lr": 0.1, "channels": 8, "cells_per_stage": 1, "seed": 0}


def test_a_tiny_nb201_network_learns_digits_repeatably(digits_data):
    evaluator = TrainingEvaluator(*digits_data, **TINY, device="cpu")
    result = evaluator(CELL)
    assert result["value"] > 80  # chance is 10 %
    assert result["epochs"] == 3 and result["device"] == "cpu" and result["amp"] is False
    assert result["params"] == sum(p.numel() for p in evaluator.build(CELL).parameters())
    assert pickle.loads(pickle.dumps(evaluator))(CELL)["value"] == result["value"]


def test_auto_device_is_cuda_with_mixed_precision_when_present(digits_data):
    result = TrainingEvaluator(*digits_data, **TINY)(CELL)
    on_gpu = torch.cuda.is_available()
    assert result["device"] == ("cuda" if on_gpu else "cpu") and result["amp"] is on_gpu
    assert result["value"] > 80


def test_a_torch_dataset_trains_too(digits_data):
    train, val = digits_data
    evaluator = TrainingEvaluator(TensorDataset(train.x, train.y), TensorDataset(val.x, val.y), num_classes=10,
                                  **TINY | {"epochs": 1, "channels": 4})
    assert 10 < evaluator(CELL)["value"] <= 100


def test_diverged_training_raises_the_reason(digits_data):
    evaluator = TrainingEvaluator(*digits_data, **TINY | {"epochs": 1, "lr": 1e6, "channels": 4})
    with pytest.raises(FloatingPointError, match="training diverged: mean training loss nan in epoch 1"):
        evaluator(CELL)


def test_bad_data_and_options_are_named(digits_data):
    train, val = digits_data
    x, y = train.x.numpy(), train.y.numpy()
    cases = [
        ((x.reshape(len(x), 64), y), val, "train_data images must be n x c x h x w, got shape"),
        ((x, y[:-1]), val, "train_data labels must be a vector of"),
        ((x, y.astype(float)), val, "labels must be integers"),
        ((x, y - 1), val, "labels must be 0 .. num_classes - 1, got -1"),
        ((np.where(x > 0.5, np.nan, x), y), val, "images hold NaN"),
        ((x, y % 5), val, "val_data has label 9, outside 0 .. 4 for 5 classes"),
        ((x[:, :, :6, :6], y), val, "val_data images are"),
        ((x[:, :, :6, :6], y), (val.x[:, :, :6, :6], val.y), "reduction block needs an even height and width"),
        (TensorDataset(train.x, train.y), val, "num_classes is needed when train_data is a Dataset"),
        ("digits", val, "must be an \\(images, labels\\) pair"),
    ]
    for train_data, val_data, message in cases:
        with pytest.raises((ValueError, TypeError), match=message):
            TrainingEvaluator(train_data, val_data)
    for option, message in (({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
                            ({"lr": -1.0}, "lr must be a positive finite number, got -1.0"),
                            ({"amp": "yes"}, "amp must be"), ({"num_classes": 3}, "train_data has label 9")):
        with pytest.raises(ValueError, match=message):
            TrainingEvaluator(train, val, **option)


def test_failures_become_failed_trials_of_a_search(digits_data):
    bad_cell = bonas.NB201Arch(("conv5x5",) * 6)
    _, _, error = call_evaluate(TrainingEvaluator(*digits_data, **TINY), bad_cell)
    assert error.startswith("ValueError: unknown op 'conv5x5' at edge 0")
    diverging = TrainingEvaluator(*digits_data, **TINY | {"epochs": 1, "lr": 1e6, "channels": 4, "num_threads": 1},
                                  device="cpu")
    opt = bonas.Optimizer(SPACE, seed=0, n_initial=10)
    with bonas.LocalBackend(n_workers=2) as backend:
        bonas.run(opt, diverging, backend=backend, n_trials=3, max_in_flight=2, show_progress=False, fail_fast=None)
    assert [trial.state for trial in opt.trials] == [bonas.TrialState.FAILED] * 3
    assert all("training diverged" in trial.info["error"] for trial in opt.trials)

"""The CUDA path, measured on a GPU machine: training with AMP, NASWOT, the optimizer, CATE pretraining and encoding.

``python benchmarks/gpu_check.py OUT.json`` (needs CUDA). Each check records its
device, wall time and result; CPU references are run in the same process where
a comparison is the point (CATE encodings, optimizer asks).
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import torch

import bonas
from bonas.encoders.cate import CATEEncoder
from bonas.evaluators import NASWOT, TrainingEvaluator, digits
from bonas.pretraining.cate import pretrain_space


def timed(function):
    torch.cuda.synchronize()
    began = time.perf_counter()
    value = function()
    torch.cuda.synchronize()
    return value, round(time.perf_counter() - began, 2)


def main(out: Path) -> None:
    assert torch.cuda.is_available(), "this check needs CUDA"
    warnings.filterwarnings("ignore")
    report: dict = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    space = bonas.NASBench201Space()
    cell = space.from_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")

    train, val = digits(seed=0)
    for device in ("cuda", "cpu"):
        evaluator = TrainingEvaluator(train, val, epochs=8, batch_size=128, channels=16, cells_per_stage=1,
                                      device=device)
        result, wall = timed(lambda e=evaluator: e(cell))
        report[f"train_digits_{device}"] = {**result, "wall_s": wall}
    images = torch.randn(10_000, 3, 32, 32)
    labels = torch.randint(0, 10, (10_000,))
    full = TrainingEvaluator((images, labels), (images[:2000], labels[:2000]), epochs=1, batch_size=256)
    result, wall = timed(lambda: full(cell))
    report["train_nb201_full_size_1_epoch_10k_cifar_shaped_cuda"] = {**result, "wall_s": wall}
    naswot = NASWOT(train, space, seed=0)
    result, wall = timed(lambda: naswot(cell))
    report["naswot_cuda"] = {**result, "wall_s": wall, "cpu_value": NASWOT(train, space, seed=0, device="cpu")(cell)["value"]}

    table = bonas.NASBench201Table("cifar10")
    for device in ("cuda", "cpu"):
        opt = bonas.Optimizer(space, seed=0, deterministic=True, device=device)
        began = time.perf_counter()
        for _ in range(40):
            trial = opt.ask()[0]
            opt.tell(trial, table.query(trial.arch).test_accuracy)
        report[f"optimizer_tw_40_asks_{device}"] = {"seconds": round(time.perf_counter() - began, 2),
                                                   "best": opt.best_trial.value, "fit": opt.last_fit}
        opt = bonas.Optimizer(space, seed=0, deterministic=True, device=device, candidates="all")
        for _ in range(20):
            trial = opt.ask()[0]
            opt.tell(trial, table.query(trial.arch).test_accuracy)
        batch, wall = timed(lambda o=opt: o.ask(16))
        report[f"optimizer_full_pool_kdpp16_{device}"] = {"seconds": wall, "n": len(batch)}

    checkpoint = Path("/tmp/cate_gpu/nb201.pt")
    result, meta = pretrain_space(space, checkpoint, epochs=50, command="gpu_check nb201 50 epochs", device="cuda")
    report["cate_pretrain_nb201_50_epochs_cuda"] = {"train_seconds": round(result.seconds, 1),
                                                    "last": result.history[-1]}
    archs = list(table.architectures())
    on_gpu, wall = timed(lambda: CATEEncoder(space, checkpoint=checkpoint, device="cuda").encode(archs))
    on_cpu = CATEEncoder(space, checkpoint=checkpoint, device="cpu").encode(archs)
    report["cate_encode_15625_cuda"] = {"seconds": wall, "max_abs_diff_vs_cpu": float((on_gpu.cpu() - on_cpu).abs().max())}
    result, _ = pretrain_space(bonas.NASBench101Space(), Path("/tmp/cate_gpu/nb101.pt"), epochs=2,
                               command="gpu_check nb101 2 epochs", device="cuda")
    report["cate_pretrain_nb101_2_epochs_cuda"] = {"train_seconds": round(result.seconds, 1),
                                                   "last": result.history[-1]}
    out.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

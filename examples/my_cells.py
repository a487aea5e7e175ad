"""Your own cell space with your own op modules, from its definition to a trained best cell, on a CPU.

1. Define the ops as modules (``channels -> nn.Module``, keeping the channels and the image size) and the
   space of cells over them (a ``CellSpace``: at most 5 nodes, 6 edges).
2. Search it: each trial trains the cell's network (the NAS-Bench-101 skeleton around the cell, 16 channels,
   one cell per stage) for 4 epochs on scikit-learn's 8x8 digits and reports validation accuracy; two workers.
3. Train the best cell longer (15 epochs) and keep its weights.

Under a minute on two CPU cores; on a GPU the same script trains there. Needs scikit-learn.
Usage: ``python examples/my_cells.py [--out runs/my_cells]``. The search's journal is resumed if you run it again.
"""

import argparse
import time
from pathlib import Path

import torch
from torch import nn

import bonas
from bonas.evaluators import TrainingEvaluator, digits


def separable(channels: int) -> nn.Module:
    """A depthwise 5x5 then pointwise 1x1 convolution, BN, ReLU."""
    return nn.Sequential(nn.Conv2d(channels, channels, 5, padding=2, groups=channels, bias=False),
                         nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU())


class SqueezeExcite(nn.Module):
    """A 3x3 conv-BN-ReLU whose channels are reweighted by a squeeze-and-excitation gate."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU())
        squeezed = max(1, channels // 4)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, squeezed, 1), nn.ReLU(),
                                  nn.Conv2d(squeezed, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y * self.gate(y)


OP_MODULES = {"sepconv5x5": separable, "se3x3": SqueezeExcite, "avgpool3x3": lambda c: nn.AvgPool2d(3, 1, 1)}
SPACE = bonas.CellSpace(["conv3x3-bn-relu", "sepconv5x5", "se3x3", "avgpool3x3"], max_nodes=5, max_edges=6,
                        name="my_cells")
"""``bonas pretrain-cate --space examples.my_cells:SPACE`` (run from the repository root) pretrains CATE on it."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/my_cells"))
    args = parser.parse_args()
    train, val = digits(val_fraction=0.25, seed=0)
    options = dict(space=SPACE, channels=16, cells_per_stage=1, network_options={"op_modules": OP_MODULES},
                   batch_size=64, num_threads=1, seed=0)
    journal = args.out / "journal.jsonl"
    opt = (bonas.Optimizer.load(journal, space=SPACE) if journal.exists()
           else bonas.Optimizer(SPACE, encoding="tw", n_initial=6, seed=0, storage=journal))
    start = time.perf_counter()
    bonas.run(opt, TrainingEvaluator(train, val, epochs=4, **options), backend=bonas.LocalBackend(n_workers=2),
              n_trials=16, max_in_flight=2)
    best = opt.best_trial
    print(f"searched {len(opt.trials)} cells in {time.perf_counter() - start:.0f} s; best after 4 epochs: "
          f"{best.value:.2f} % validation accuracy, {best.info['params']:,} parameters")
    print(f"best cell: {best.arch_str}")

    final = TrainingEvaluator(train, val, epochs=15, **options)
    result = final(best.arch, save_path=args.out / "best_cell.pt")
    print(f"trained 15 epochs in {result['train_time_s']:.0f} s on {result['device']}: {result['value']:.2f} % "
          f"validation accuracy; its checkpoint (weights under 'network') is {args.out / 'best_cell.pt'}")
    opt.close()


if __name__ == "__main__":
    main()

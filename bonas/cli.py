"""The ``bonas`` command line: one sub-command per job, argparse, rich output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
from rich.console import Console
from rich.table import Table

from bonas.nasbench.nb201 import DATASETS, NASBench201Table


def _top(args: argparse.Namespace, console: Console) -> int:
    table = NASBench201Table(args.dataset)
    metric = table.metric(args.metric)
    best_rows = np.argsort(-metric, kind="stable")[: args.k]
    archs = list(table.architectures())
    shown = Table(title=f"NAS-Bench-201 {table.dataset}: top {args.k} cells by {args.metric}")
    for column in ("rank", "index", args.metric, "params"):
        shown.add_column(column, justify="right")
    shown.add_column("cell", overflow="fold")
    for rank, row in enumerate(best_rows, start=1):
        record = table.query(archs[row])
        shown.add_row(str(rank), str(row), f"{metric[row]:.4f}", f"{record.params:,}", record.arch_str)
    console.print(shown)
    console.print(f"optimum {args.metric}: {table.optimum(args.metric):.4f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="bonas", description="Bayesian optimisation for neural architecture search.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    top = commands.add_parser("top", help="print the best NAS-Bench-201 cells of a dataset and the optimum")
    top.add_argument("--dataset", default="cifar10", choices=DATASETS, help="NAS-Bench-201 dataset (default: cifar10)")
    top.add_argument("--metric", default="test_accuracy", choices=("test_accuracy", "val_accuracy_12ep", "test_accuracy_12ep"),
                     help="column to rank by (default: 200-epoch test accuracy)")
    top.add_argument("-k", type=_positive_int, default=5, help="how many cells to list (default: 5)")
    top.set_defaults(run=_top)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bonas`` console script."""
    args = build_parser().parse_args(argv)
    return args.run(args, Console())


if __name__ == "__main__":
    sys.exit(main())

"""The ``bonas`` command line: one sub-command per job, argparse, rich output."""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gpytorch.utils.warnings import NumericalWarning
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bonas.backends import LocalBackend
from bonas.backends.ray import import_ray
from bonas.console import command_console, print_table
from bonas.evaluators import NASWOT, CIFAR10Folder, TrainingEvaluator, digits
from bonas.evaluators.data import image_shape
from bonas.journal import JournalCorruptError
from bonas.journal_report import print_report, read_report, write_report
from bonas.journal_lock import JournalLockedError
from bonas.loop import run
from bonas.nasbench.nb201 import DATASETS, NASBench201Table, check_dataset
from bonas.batch.rules import BATCH_RULES
from bonas.encoders import ENCODINGS
from bonas.networks import AllOf, FlopBudget, ParamBudget, SizeSignals, WithParams
from bonas.optimizer import Optimizer
from bonas.progress import DEFAULT_INTERVAL_S, INTERVAL_VARIABLE
from bonas.replay.benchmark import NB101_OBJECTIVES, NB201_OBJECTIVES, ReplayBenchmark, ReplaySpec, make_benchmark
from bonas.replay.figures import FIGURE_FORMATS, FigureOptions, in_format
from bonas.replay.report import (OUTPUT_NAMES, check_output_folder, print_summary, read_trials, summarize,
                                write_fallback, write_figures, write_outputs)
from bonas.replay.runner import BACKENDS, ReplayInterrupted, make_backend, run_replays
from bonas.replay.constraints import TableConstraint
from bonas.replay.mo_baselines import MO_BASELINES
from bonas.replay.fidelity import OUTPUT_NAMES as FIDELITY_OUTPUTS
from bonas.replay.fidelity import (MultiFidelitySpec, check_fidelity_method, fidelity_table, write_fidelity_figures,
                                   write_fidelity_outputs)
from bonas.replay.multi import OUTPUT_NAMES as MULTI_OBJECTIVE_OUTPUTS
from bonas.replay.multi import (MultiObjectiveSpec, check_multi_objective_method, multi_objective_table,
                                write_multi_objective_figures, write_multi_objective_outputs)
from bonas.replay.strategies import check_method, methods
from bonas.spaces.registry import space_names
from bonas.spaces.spec import SpaceSpec, load_space
from bonas.trial import TrialState

EVALUATORS = ("naswot", "train")
SEARCH_JOURNAL = "journal.jsonl"
"""The journal's name in ``bonas search --out DIR`` when ``--journal`` is not given."""


def _top(args: argparse.Namespace, console: Console) -> int:
    table = NASBench201Table(args.dataset)
    metric = table.metric(args.metric)
    best_rows = np.argsort(-metric, kind="stable")[: args.k]
    archs = list(table.architectures())
    shown = Table(title=f"NAS-Bench-201 {table.dataset}: top {args.k} cells by {args.metric}")
    for column in ("rank", "index", args.metric, "params"):
        shown.add_column(column, justify="right")
    shown.add_column("cell")
    for rank, row in enumerate(best_rows, start=1):
        record = table.query(archs[row])
        shown.add_row(str(rank), str(row), f"{metric[row]:.4f}", f"{record.params:,}", record.arch_str)
    print_table(shown, console)
    console.print(f"optimum {args.metric}: {table.optimum(args.metric):.4f}")
    return 0


def _objectives(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if len(names) < 2 or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"--objectives takes two or more different objectives, comma-separated, "
                                         f"e.g. accuracy,latency:eyeriss; got {text!r}")
    return names


def _replay_multi_objective(args: argparse.Namespace, console: Console) -> int:
    methods = args.methods or ["tw", "random", "nsga2"]
    try:
        if args.space != "nb201" or args.objective not in (None, "test") or args.constraint or args.asynchronous \
                or args.backend != "inline" or args.prior:
            raise ValueError("--objectives replays NB201 (--space nb201) on the 200-epoch test accuracy, "
                             "batch-synchronously and inline: leave out --objective, --constraint, --asynchronous, "
                             "--prior and --backend")
        for method in methods:
            check_multi_objective_method(method)
        spec = MultiObjectiveSpec(dataset=args.dataset, objectives=args.objectives, queries=args.queries,
                                  batch_size=args.batch_size)
        table = multi_objective_table(spec)
        check_output_folder(args.out)
        figures = _figure_options(args, methods)
    except (KeyError, ValueError) as error:
        console.print(f"[red]bonas replay: {error.args[0] if isinstance(error, KeyError) else error}", soft_wrap=True)
        return 2
    if args.plot_only:
        return _replot(args, console, lambda rows: write_multi_objective_figures(rows, spec, args.out, spec.title,
                                                                                 figures))
    return _run_and_write(
        args, console, spec, methods,
        f"{args.queries} queries in batches of {args.batch_size}; ", f"true hypervolume "
        f"{table.scale.true_hypervolume:.4f}",
        lambda rows, title: write_multi_objective_outputs(rows, spec, args.out, title, figures),
        "mean hypervolume regret ± s.e.", MULTI_OBJECTIVE_OUTPUTS, figures)


def _fidelities(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fidelities takes comma-separated epochs, e.g. 12,200; got {text!r}") \
            from None
    if len(levels) < 2 or len(set(levels)) != len(levels) or min(levels) < 1:
        raise argparse.ArgumentTypeError(f"--fidelities takes two or more different positive epochs, e.g. 12,200; "
                                         f"got {text!r}")
    return levels


def _replay_multi_fidelity(args: argparse.Namespace, console: Console) -> int:
    methods = args.methods or ["tw", "tw-sf", "hyperband", "bohb"]
    try:
        if args.space != "nb201" or args.objective is not None or args.constraint or args.asynchronous \
                or args.backend != "inline" or args.objectives is not None or args.batch_size != 1 or args.prior:
            raise ValueError("--fidelities replays NB201 (--space nb201) one evaluation at a time, inline: leave out "
                             "--objective, --objectives, --constraint, --asynchronous, --batch-size, --prior and "
                             "--backend")
        for method in methods:
            check_fidelity_method(method)
        given = {name: value for name, value in (("full_trainings", args.full_trainings),
                                                 ("refit_growth", args.refit_growth)) if value is not None}
        spec = MultiFidelitySpec(dataset=args.dataset, fidelities=args.fidelities, **given)
        table = fidelity_table(spec.dataset)
        check_output_folder(args.out)
        figures = _figure_options(args, methods)
    except (KeyError, ValueError) as error:
        console.print(f"[red]bonas replay: {error.args[0] if isinstance(error, KeyError) else error}", soft_wrap=True)
        return 2
    if args.plot_only:
        return _replot(args, console, lambda rows: write_fidelity_figures(rows, spec, args.out, spec.title, figures))
    return _run_and_write(
        args, console, spec, methods,
        f"{spec.budget_epochs:,} epochs ({spec.full_trainings} full trainings) each; ", f"optimum {table.optimum:.4f}",
        lambda rows, title: write_fidelity_outputs(rows, spec, args.out, title, figures),
        f"mean regret ± s.e. by full trainings ({spec.fidelities[-1]} epochs) spent,", FIDELITY_OUTPUTS, figures)


def _run_and_write(args: argparse.Namespace, console: Console, spec: Any, methods: list[str], budget: str,
                   reference: str, write: Callable[[list[dict[str, Any]], str], list[dict[str, Any]]],
                   regret: str, outputs: Sequence[str], figures: FigureOptions) -> int:
    """Run a multi-objective or multi-fidelity replay's (method, seed) runs and ``write`` its outputs (the finished
    runs on Ctrl-C, exit 130); ``budget`` and ``reference`` say what each run spends and is scored against."""
    jobs = min(args.jobs, os.cpu_count() or 1)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    title = spec.title
    console.print(f"replay {title}: methods {', '.join(methods)}; {args.seeds} seed(s) from {args.first_seed}; "
                  f"{budget}{jobs} job(s); {reference}")
    start = time.perf_counter()
    try:
        rows = run_replays(spec, methods, seeds, jobs=jobs)
    except ReplayInterrupted as interrupted:
        if interrupted.rows:
            write(interrupted.rows, f"{title}, interrupted")
            console.print(f"interrupted: wrote the {interrupted.finished} finished replays to {args.out}")
        return 130
    summary = write(rows, title)
    print_summary(summary, f"{title}: {regret} over {args.seeds} seed(s)", console)
    console.print(f"wrote {', '.join(in_format(outputs, figures.format))} to {args.out} in "
                  f"{time.perf_counter() - start:.1f} s")
    return 0


def _replay(args: argparse.Namespace, console: Console) -> int:
    if args.fidelities is not None:
        return _replay_multi_fidelity(args, console)
    misplaced = [flag for flag, value in (("--full-trainings", args.full_trainings),
                                          ("--refit-growth", args.refit_growth)) if value is not None]
    if misplaced:
        console.print(f"[red]bonas replay: {' and '.join(misplaced)} apply to multi-fidelity replays only; add "
                      "--fidelities 12,200 or leave them out (a single-fidelity replay's budget is --queries)",
                      soft_wrap=True)
        return 2
    if args.objectives is not None:
        return _replay_multi_objective(args, console)
    if args.methods is None:
        args.methods = ["tw", "random", "rea", "ls"]
    for method in args.methods:
        if method in MO_BASELINES and method not in methods():
            console.print(f"[red]bonas replay: {method!r} is a multi-objective baseline; use it with --objectives")
            return 2
        if method not in methods() and method.split(":")[0] not in ENCODINGS:
            console.print(f"[red]bonas replay: {method!r} is a multi-fidelity method; use it with --fidelities")
            return 2
    spec = ReplaySpec(space=args.space, dataset=args.dataset, objective=args.objective, queries=args.queries,
                      batch_size=args.batch_size, asynchronous=args.asynchronous, constraint=args.constraint,
                      prior=args.prior)
    try:
        benchmark = make_benchmark(spec)
        benchmark.prior(spec.prior)
        if args.backend == "ray":  # before the output folder is made: nothing is written without Ray
            import_ray()
        check_output_folder(args.out)
        figures = _figure_options(args, args.methods)
    except (ValueError, ImportError) as error:
        console.print(f"[red]bonas replay: {escape(str(error))}", soft_wrap=True)
        return 2
    if args.plot_only:
        return _replot(args, console, lambda rows: write_figures(rows, benchmark.space, args.out, benchmark.title,
                                                                 figures))
    if args.asynchronous and args.backend != "inline":
        console.print("[red]--asynchronous simulates each evaluation's duration from the table; use --backend inline")
        return 2
    if args.backend != "inline" and args.jobs > 1:
        console.print(f"[red]--backend {args.backend} runs the look-ups of a batch in parallel; use --jobs 1")
        return 2
    cores = os.cpu_count() or 1
    jobs = min(args.jobs, cores)
    if jobs < args.jobs:
        console.print(f"[yellow]--jobs {args.jobs} is more than the {cores} CPU core(s); running {jobs} job(s)")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    console.print(f"replay {benchmark.name}: methods {', '.join(args.methods)}; {args.seeds} seed(s) from "
                  f"{args.first_seed}; {args.queries} queries "
                  + (f"with {args.batch_size} in flight, told as they end" if args.asynchronous
                     else f"in batches of {args.batch_size}") + f"; {jobs} job(s)")
    start = time.perf_counter()
    backend = make_backend(args.backend, n_workers=args.batch_size, ray_address=args.ray_address)
    try:
        rows = run_replays(spec, args.methods, seeds, jobs=jobs, backend=backend)
    except ReplayInterrupted as interrupted:
        if not interrupted.rows:
            console.print(f"interrupted: none of the {interrupted.total} (method, seed) replays had finished; "
                          f"nothing written", soft_wrap=True)
            return 130
        where = _write_replay(interrupted.rows, benchmark, args.out, f"{benchmark.title}, interrupted", figures,
                              console)
        console.print(f"interrupted: wrote the {interrupted.finished} of {interrupted.total} (method, seed) replays "
                      f"that had finished to {where}", soft_wrap=True)
        return 130
    finally:
        if backend is not None:
            backend.shutdown()
    wall = time.perf_counter() - start
    where = _write_replay(rows, benchmark, args.out, benchmark.title, figures, console)
    print_summary(summarize(rows), f"{benchmark.name}: mean regret ± s.e. over {args.seeds} seed(s) (optimum "
                                   f"{benchmark.optimum:.4f} %)", console)
    if where != args.out:
        return 1
    console.print(f"wrote {', '.join(in_format(OUTPUT_NAMES, figures.format))} to {args.out} in {wall:.1f} s")
    return 0


def _write_replay(rows: list[dict[str, Any]], benchmark: ReplayBenchmark, out: Path, title: str,
                  figures: FigureOptions, console: Console) -> Path:
    """Write the outputs into ``out``, or, should that fail, into a temporary folder; return where they went."""
    try:
        write_outputs(rows, benchmark.space, out, title, figures)
    except Exception as error:  # whatever failed, the computed replays must not be lost
        fallback = write_fallback(rows, benchmark.space, title, figures)
        written = ", ".join(sorted(path.name for path in fallback.iterdir()))
        console.print(f"[red]bonas replay: could not write the outputs to {out} ({type(error).__name__}: {escape(str(error))}); "
                      f"wrote the {len(rows)} computed trial rows as {written} to {fallback} instead", soft_wrap=True)
        return fallback
    return out


TRAINING_LR = inspect.signature(TrainingEvaluator).parameters["lr"].default
"""The training evaluator's own default learning rate (``bonas search --lr``'s default)."""


def _evaluator_description(args: argparse.Namespace) -> str:
    """What produces a search's values, in words, as its journal records it (a resume must match it)."""
    op_modules = args.space.network_options.get("op_modules")
    batch = "".join(f" {name}={value}" for name, value in (("channels", args.channels),
                                                           ("cells_per_stage", args.cells_per_stage),
                                                           ("batch_size", args.batch_size),
                                                           ("op_modules", None if op_modules is None else
                                                            ",".join(sorted(op_modules))))
                    if value is not None)
    if args.evaluator == "naswot":
        return f"naswot data={args.data} seed={args.seed}{batch}"
    lr = "" if args.lr == TRAINING_LR else f" lr={args.lr:g}"
    if args.fidelities is not None:
        return (f"{args.evaluator} data={args.data} fidelities={','.join(map(str, args.fidelities))} "
                f"seed={args.seed}{batch}{lr}")
    return f"{args.evaluator} data={args.data} epochs={args.epochs} seed={args.seed}{batch}{lr}"


def _search(args: argparse.Namespace, console: Console) -> int:
    space = args.space.space
    network_options = {"channels": args.channels, "cells_per_stage": args.cells_per_stage,
                       "network_options": args.space.network_options}
    if args.data == "digits":
        train_data, val_data = digits(seed=args.seed)
    else:
        train_data, val_data = CIFAR10Folder(args.data, "train"), CIFAR10Folder(args.data, "test")
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    if args.fidelities is not None and (args.evaluator != "train" or args.objectives is not None):
        console.print("[red]bonas search: --fidelities trains each cell for that many epochs: it needs --evaluator "
                      "train and one objective (no --objectives)", soft_wrap=True)
        return 2
    epochs = args.epochs if args.fidelities is None else max(args.fidelities)
    try:
        if args.evaluator == "naswot":
            evaluate = NASWOT(train_data, space, seed=args.seed, num_threads=threads, device=args.device,
                              **network_options, **({} if args.batch_size is None else {"batch_size": args.batch_size}))
        else:
            # with fidelities, a lower fidelity is the first epochs of the largest one's schedule, so a promotion
            # continues from the lower fidelity's checkpoint
            evaluate = TrainingEvaluator(train_data, val_data, epochs=epochs, seed=args.seed, space=space,
                                         num_threads=threads, device=args.device, lr=args.lr,
                                         schedule_epochs=None if args.fidelities is None else epochs,
                                         **network_options,
                                         **({} if args.batch_size is None else {"batch_size": args.batch_size}))
    except ValueError as error:
        console.print(f"[red]bonas search: {escape(str(error))}", soft_wrap=True)
        return 2
    # counted on the untrained network before any evaluation: a cell over budget is never trained
    budgets = ([] if args.max_params is None else [ParamBudget(evaluate.build, args.max_params)]) + (
        [] if args.max_flops is None else [FlopBudget(evaluate.build, args.max_flops, image_shape(train_data))])
    feasible = None if not budgets else budgets[0] if len(budgets) == 1 else AllOf(tuple(budgets))
    prior = SizeSignals(evaluate.build) if args.size_prior else None
    objectives = None if args.objectives is None else {args.objectives[0]: "max", "params": "min"}
    evaluator = _evaluator_description(args)
    if args.journal is None and args.out is None:
        args.out = Path("runs/search") / time.strftime("%Y%m%d-%H%M%S")
    journal = args.journal if args.journal is not None else args.out / SEARCH_JOURNAL
    if journal.exists():
        try:
            opt = Optimizer.load(journal, space=space, feasible=feasible, prior=prior)
        except (JournalCorruptError, JournalLockedError, ValueError, OverflowError, OSError) as error:
            hint = " (bonas search: give --size-prior as the journal was written)" if "cheap signals" in str(error) \
                else ""
            console.print(f"[red]cannot resume {journal}: {escape(str(error))}{hint}", soft_wrap=True)
            return 2
        kept = {name: getattr(opt.settings, name) for name in ("encoding", "seed", "n_initial")
                if getattr(opt.settings, name) != getattr(args, name)}
        if kept:
            console.print(f"[yellow]resuming {journal}: its settings {kept} are kept over the options given")
        written = None if opt.outcomes is None else dict(opt.outcomes.objectives)
        if opt.settings.fidelities != (None if args.fidelities is None else tuple(sorted(args.fidelities))):
            console.print(f"[red]cannot resume {journal}: it was written with fidelities {opt.settings.fidelities}, "
                          f"not {args.fidelities}; pass the same --fidelities", soft_wrap=True)
            opt.close()
            return 2
        if written != objectives:
            console.print(f"[red]cannot resume {journal}: it was written with objectives {written}, not "
                          f"{objectives}; pass the same --objectives", soft_wrap=True)
            return 2
        if opt.settings.evaluator != evaluator:
            if not args.force:
                written_by = ("an evaluator it does not name (an earlier bonas)" if opt.settings.evaluator is None
                              else repr(opt.settings.evaluator))
                console.print(f"[red]cannot resume {journal}: its values come from {written_by}, not {evaluator!r};"
                              " the two would mix in one search. Pass the same --evaluator, --data, --epochs, "
                              "--seed, --channels, --cells-per-stage, --batch-size, --lr and op modules, or --force "
                              "to mix them anyway", soft_wrap=True)
                opt.close()
                return 2
            console.print(f"[yellow]resuming {journal} with {evaluator!r} although its values come from "
                          f"{opt.settings.evaluator!r} (--force)", soft_wrap=True)
    else:  # a new journal is written only once the data is known to be good
        try:
            opt = Optimizer(space, encoding=args.encoding, seed=args.seed, storage=journal, feasible=feasible,
                            prior=prior, objectives=objectives, evaluator=evaluator, n_initial=args.n_initial,
                            device=args.device, fidelities=args.fidelities)
        except (JournalLockedError, ValueError, OSError) as error:
            console.print(f"[red]bonas search: cannot create {journal}: {escape(str(error))}", soft_wrap=True)
            return 2
    if objectives is not None:
        evaluate = WithParams(evaluate, evaluate.build, objective=args.objectives[0])
    resumed = sum(trial.state in (TrialState.COMPLETE, TrialState.FAILED) for trial in opt.trials)
    console.print(f"search {space.name} with {args.evaluator} on {args.data}: {args.trials} trials"
                  + (f" ({resumed} told before)" if resumed else "") + f", {args.workers} worker(s); journal "
                  f"{journal}" + (f", outputs in {args.out}" if args.out is not None else ""), soft_wrap=True)
    start = time.perf_counter()
    try:
        with LocalBackend(n_workers=args.workers, timeout_s=args.timeout) as backend, warnings.catch_warnings():
            # linear_operator's jitter notices would interleave with the progress bar; fit fallbacks are logged
            warnings.filterwarnings("ignore", category=NumericalWarning)
            run(opt, evaluate, backend=backend, n_trials=args.trials, max_in_flight=args.workers)
    except KeyboardInterrupt:
        opt.close()
        _search_outputs(journal, args, time.perf_counter() - start, console)
        console.print(f"interrupted: {journal} holds every trial told so far; the same command resumes it",
                      soft_wrap=True)
        return 130
    opt.close()
    return _search_outputs(journal, args, time.perf_counter() - start, console)


def _search_outputs(journal: Path, args: argparse.Namespace, wall: float, console: Console) -> int:
    """The state of the search read back from its journal, printed, and its outputs written to ``--out``."""
    report = read_report(journal)
    print_report(report, console, value_name="NASWOT score" if args.evaluator == "naswot"
                 else "validation accuracy (%)")
    console.print(f"{len(report.trials)} trials in {wall:.1f} s; journal {journal}", soft_wrap=True)
    if args.out is None:
        console.print(f"bonas report {journal} --out DIR writes its trials.csv and plots", soft_wrap=True)
        return 0
    written = write_report(report, args.out)
    console.print(f"wrote {', '.join(path.name for path in written)} to {args.out}", soft_wrap=True)
    return 0


def _report(args: argparse.Namespace, console: Console) -> int:
    try:
        report = read_report(args.path)
    except (FileNotFoundError, IsADirectoryError, JournalCorruptError) as error:
        console.print(f"[red]bonas report: {escape(str(error))}", soft_wrap=True)
        return 2
    print_report(report, console)
    if args.out is not None:
        try:
            written = write_report(report, args.out)
        except OSError as error:
            console.print(f"[red]bonas report: cannot write to {args.out}: {escape(str(error))}", soft_wrap=True)
            return 2
        console.print(f"wrote {', '.join(path.name for path in written)} to {args.out}", soft_wrap=True)
    return 0


def _search_objectives(text: str) -> tuple[str, str]:
    names = [name.strip() for name in text.split(",")]
    if len(names) != 2 or names[1] != "params" or not names[0] or names[0] == "params":
        raise argparse.ArgumentTypeError(f"--objectives takes NAME,params: the evaluator's value (maximised) and the "
                                         f"network's parameter count (minimised), e.g. accuracy,params; got {text!r}")
    return names[0], names[1]


def _pretrain_cate(args: argparse.Namespace, console: Console) -> int:
    from bonas.pretraining.cate import pretrain_space

    space = args.space.space
    command = "bonas pretrain-cate " + " ".join(sys.argv[2:] if args.argv is None else args.argv)
    config = {"d_model": args.d_model, "n_heads": args.heads, "graph_layers": args.graph_layers,
              "cross_layers": args.cross_layers, "d_ff": 2 * args.d_model}
    try:
        result, meta = pretrain_space(space, args.out, n_samples=args.samples, k=args.k, window=args.window,
                                      config=config, command=command, seed=args.seed, cost=args.cost,
                                      network_options=args.space.network_options, epochs=args.epochs,
                                      batch_size=args.batch_size, lr=args.lr, device=args.device)
    except ValueError as error:
        console.print(f"[red]pretrain-cate: {escape(str(error))}")
        return 2
    last = result.history[-1]
    console.print(f"CATE for {space.name}: {args.epochs} epochs in {result.seconds:.1f} s; held-out masked-op "
                  f"accuracy {last['valid_accuracy']:.3f}, loss {last['valid_loss']:.3f}; wrote {args.out} and {meta}")
    return 0


def _space_help(names: Sequence[str]) -> str:
    return (f"search space: a registered name ({', '.join(names)}), package.module:attribute naming a Space (with "
            f"the module's OP_MODULES for a CellSpace of your own ops) or a .json/.toml cell-space file "
            f"(docs/extending.md) (default: nb201)")


def _space(text: str) -> SpaceSpec:
    try:
        return load_space(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _data(text: str) -> str:
    if text == "digits":
        return text
    try:
        CIFAR10Folder(text)
    except FileNotFoundError as error:
        raise argparse.ArgumentTypeError(f"expected 'digits' or a CIFAR-10 folder: {error}") from None
    return text


def _journal(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; expected the path of a journal file (a new one is "
                                         f"created)")
    return path


def _out_folder(text: str) -> Path:
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is an existing file; expected a folder (created if need be)")
    return path


def _methods(text: str) -> list[str]:
    methods = [name.strip() for name in text.split(",") if name.strip()]
    if not methods:
        raise argparse.ArgumentTypeError(f"no method in {text!r}; expected a comma-separated subset of "
                                         f"{','.join(methods())}")
    for name in methods:
        try:
            check_method(name)
        except ValueError as error:
            # the multi-objective and multi-fidelity methods are checked with --objectives / --fidelities
            try:
                if name not in MO_BASELINES:
                    check_fidelity_method(name)
            except ValueError:
                raise argparse.ArgumentTypeError(str(error)) from None
    if len(set(methods)) != len(methods):
        raise argparse.ArgumentTypeError(f"a method is named twice in {text!r}")
    return methods


def _plot_size(text: str) -> tuple[float, float]:
    try:
        return FigureOptions(size=tuple(float(side) for side in text.split(","))).size
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected the figure's width,height in inches, e.g. 3.4,2.8; got "
                                         f"{text!r}") from None


def _plot_methods(text: str) -> tuple[str, ...]:
    try:
        return FigureOptions(methods=tuple(name.strip() for name in text.split(",") if name.strip())).methods
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _figure_options(args: argparse.Namespace, replayed: list[str]) -> FigureOptions:
    """The figures ``--plot-*`` ask for; ``ValueError`` naming a ``--plot-methods`` method not replayed."""
    unknown = [] if args.plot_only else [name for name in args.plot_methods or () if name not in replayed]
    if unknown:
        raise ValueError(f"--plot-methods names {unknown}, which --methods does not replay ({','.join(replayed)})")
    return FigureOptions(format=args.plot_format, size=args.plot_size, methods=args.plot_methods)


def _replot(args: argparse.Namespace, console: Console, draw: Callable[[list[dict[str, Any]]], list[Path]]) -> int:
    """``--plot-only``: the figures of ``--out`` redrawn from its ``trials.csv`` by ``draw``."""
    trials = args.out / "trials.csv"
    try:
        rows = read_trials(trials)
        paths = draw(rows)
    except (OSError, KeyError, ValueError) as error:
        console.print(f"[red]bonas replay --plot-only: cannot redraw the figures from {trials}: {escape(str(error))}",
                      soft_wrap=True)
        return 2
    console.print(f"redrew {', '.join(path.name for path in paths)} in {args.out} from the {len(rows)} rows of "
                  f"{trials}", soft_wrap=True)
    return 0


def _constraint(text: str) -> str:
    try:
        return str(TableConstraint.parse(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _dataset(text: str) -> str:
    try:
        return check_dataset(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _batch_rules_help() -> str:
    return "; ".join(f"{name} ({entry.summary})" for name, entry in BATCH_RULES.items())


def build_parser() -> argparse.ArgumentParser:
    """The parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="bonas", description="Bayesian optimisation for neural architecture search.",
        epilog=f"Progress of replay, search and pretrain-cate: a bar in a terminal; with the output going to a file, "
               f"a plain line every {INTERVAL_VARIABLE} seconds (default {DEFAULT_INTERVAL_S:g}; 0: at every step) "
               f"with the work done, the best so far, the time elapsed and the time left.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    top = commands.add_parser("top", help="print the best NAS-Bench-201 cells of a dataset and the optimum",
                              description="Lists the k best cells of a NAS-Bench-201 table by one column (their "
                                          "table index, accuracy, parameter count and architecture string): the "
                                          "optimum a replay's regret is measured against.")
    top.add_argument("--dataset", default="cifar10", choices=DATASETS, help="NAS-Bench-201 dataset (default: cifar10)")
    top.add_argument("--metric", default="test_accuracy", choices=("test_accuracy", "val_accuracy_12ep", "test_accuracy_12ep"),
                     help="column to rank by (default: 200-epoch test accuracy)")
    top.add_argument("-k", type=_positive_int, default=5, help="how many cells to list (default: 5)")
    top.set_defaults(run=_top)

    replay = commands.add_parser(
        "replay", help="run search methods against a NAS-Bench table over many seeds; write regret CSVs and plots",
        description="Replay search methods on a tabular NAS benchmark: every query is a table look-up. Regret is the "
                    "table optimum of the reported metric minus the reported metric of the best-by-objective cell.",
    )
    replay.add_argument("--space", default="nb201", choices=space_names("replay_tables"),
                        help="benchmark: nb201 (15,625 cells) or nb101 (the bundled 20,001 NAS-Bench-101 cells, "
                             "searched as the whole space; dataset cifar10) (default: nb201)")
    replay.add_argument("--dataset", default="cifar10", type=_dataset,
                        help=f"NAS-Bench-201 dataset, one of {', '.join(DATASETS)} (default: cifar10)")
    replay.add_argument("--objective", default=None, choices=(*NB201_OBJECTIVES, *NB101_OBJECTIVES),
                        help="what the search maximises. NB201: test = 200-epoch test accuracy (noise-free, the "
                             "default); val12 = 12-epoch validation accuracy, regret on the 200-epoch test accuracy; "
                             "test12 = 12-epoch test accuracy, the TW-NAS paper's setting. NB101: val = 108-epoch "
                             "validation accuracy of one training run (noisy; the default)")
    replay.add_argument("--methods", default=None, type=_methods,
                        help=f"comma-separated methods among {','.join(methods())}; an encoding may name its batch "
                             f"rule as encoding:rule, the rule one of: {_batch_rules_help()} (default: "
                             f"tw,random,rea,ls). With --objectives: encodings, random and nsga2 (default: "
                             f"tw,random,nsga2)")
    replay.add_argument("--queries", type=_positive_int, default=150, help="table look-ups per run (default: 150)")
    replay.add_argument("--seeds", type=_positive_int, default=30, help="number of seeds per method (default: 30)")
    replay.add_argument("--first-seed", type=_non_negative_int, default=0,
                        help="first seed, 0 or more; seeds are consecutive (default: 0)")
    replay.add_argument("--batch-size", type=_positive_int, default=1,
                        help="architectures asked per step (default: 1, sequential)")
    replay.add_argument("--asynchronous", action="store_true",
                        help="keep --batch-size evaluations in flight and tell each when its simulated training ends "
                             "(NB101: the table's training time; NB201, whose tables have none: in the order asked), "
                             "asking a new one at once, as bonas.run does on a cluster (default: batch-synchronous)")
    replay.add_argument("--constraint", type=_constraint, default=None,
                        help="NB201: only cells meeting a limit known before training are proposed, by every method, "
                             "and the regret is against the constrained optimum: params<=N, flops<=N or "
                             "latency:DEVICE<=MS (inclusive; devices as bonas.nasbench.LATENCY_DEVICES, e.g. "
                             "latency:pixel2<=14) (default: none)")
    replay.add_argument("--prior", default=None, metavar="params,flops",
                        help="cheap signals known before training that bonas's methods get as the GP's prior mean "
                             "and for their initial design (Optimizer(prior=...)): table columns, comma separated, "
                             "each as its log (NB201: params, flops; NB101: params); the baselines ignore them "
                             "(default: none)")
    replay.add_argument("--objectives", type=_objectives, default=None,
                        help="NB201: a multi-objective replay of two or more objectives, each accuracy (200-epoch "
                             "test accuracy, maximised), latency:DEVICE, params or flops (minimised), e.g. "
                             "accuracy,latency:eyeriss; scored by hypervolume regret (objectives normalised over the "
                             "table, reference point the table's worst value of each), with a plot of the fronts "
                             "found (default: one objective, --objective)")
    replay.add_argument("--fidelities", type=_fidelities, default=None, metavar="12,200",
                        help="NB201: a multi-fidelity replay: each evaluation at 12 epochs (the 12-epoch validation "
                             "accuracy, costing 12 epochs) or 200 (the 200-epoch test accuracy, costing 200; a "
                             "promotion pays all 200), regret of the best cell evaluated at 200 epochs against "
                             "epochs spent; methods: encodings (multi-fidelity bonas), ENCODING-sf (single-fidelity "
                             "bonas, every trial at 200), hyperband, bohb (default: tw,tw-sf,hyperband,bohb)")
    replay.add_argument("--full-trainings", type=_positive_int, default=None,
                        help="with --fidelities: the budget of each run, in 200-epoch trainings (default: 100)")
    replay.add_argument("--refit-growth", type=float, default=None,
                        help="with --fidelities: bonas refits its GP's hyperparameters only once the results have "
                             "grown by this fraction since the last fit (default: 0, every evaluation)")
    replay.add_argument("--jobs", type=_positive_int, default=1,
                        help="parallel processes over runs; more than the CPU cores is capped at their number, with "
                             "a warning (default: 1)")
    replay.add_argument("--backend", default="inline", choices=BACKENDS,
                        help="where the look-ups of a batch run: inline (in the replay process), local (worker "
                             "processes, one per batch member) or ray (Ray tasks; a local Ray instance unless "
                             "--ray-address is given; pip install 'bonas[cluster]'); local and ray need --jobs 1 "
                             "(default: inline)")
    replay.add_argument("--ray-address", default=None,
                        help="Ray cluster to join with --backend ray, e.g. auto or ray://host:10001 (default: start "
                             "a local Ray instance)")
    replay.add_argument("--out", type=Path, default=Path("runs/replay"),
                        help="output folder for trials.csv, summary.csv, regret.png, best_cells.png "
                             "(default: runs/replay)")
    replay.add_argument("--plot-format", default="png", choices=FIGURE_FORMATS,
                        help="format of the figures: png, or pdf and svg (vector) for a paper (default: png)")
    replay.add_argument("--plot-size", type=_plot_size, default=None, metavar="W,H",
                        help="size of the regret and front figures in inches, e.g. 3.4,2.8 for one column of a "
                             "two-column paper; best_cells takes the width and is as tall as its rows need "
                             "(default: each figure's own, sized by what it draws)")
    replay.add_argument("--plot-methods", type=_plot_methods, default=None, metavar="A,B",
                        help="draw only these of the replayed methods, in this order (default: all)")
    replay.add_argument("--plot-only", action="store_true",
                        help="run nothing: redraw the figures in --out from its trials.csv with the --plot-* "
                             "options; give the same --space, --dataset, --objective, --constraint and "
                             "--objectives as the replay that wrote it (they name the benchmark in the titles)")
    replay.set_defaults(run=_replay)

    search = commands.add_parser(
        "search", help="search a space with real evaluations: NASWOT scores (no training) or short training runs",
        description="Bayesian optimisation over a space, each architecture evaluated on real data: 'naswot' scores "
                    "the untrained network on one batch (about a second on a CPU), 'train' trains it with "
                    "NAS-Bench-201's recipe (on CUDA when present) and reports validation accuracy.",
    )
    search.add_argument("--space", default=load_space("nb201"), type=_space, metavar="SPACE",
                        help=_space_help(space_names("network_builder")))
    search.add_argument("--channels", type=_positive_int, default=None,
                        help="the networks' first width (default: the space's small one: nb201 16, darts 16, "
                             "cells 128; DARTS's evaluation network: 36)")
    search.add_argument("--cells-per-stage", type=_positive_int, default=None,
                        help="cells between reductions (default: nb201 5, darts 2 (8 cells), cells 3; DARTS's "
                             "evaluation network: 6 (20 cells))")
    search.add_argument("--fidelities", type=_fidelities, default=None, metavar="2,8",
                        help="with --evaluator train: a multi-fidelity search over these training epochs; each "
                             "cell is trained the fewest first and promoted when the GP expects it to pay, a "
                             "promotion continuing from the lower fidelity's checkpoint (kept beside the journal); "
                             "the result is the best cell trained the most epochs (default: one fidelity, --epochs)")
    search.add_argument("--evaluator", default="naswot", choices=EVALUATORS, help="how an architecture is "
                        "scored (default: naswot)")
    search.add_argument("--data", default="digits", type=_data,
                        help="'digits' (scikit-learn's 8x8 digits, needs scikit-learn) or a CIFAR-10 folder in "
                             "torchvision's format (default: digits)")
    search.add_argument("--trials", type=_positive_int, default=200,
                        help="architectures told in all, counting those a resumed journal already holds (default: "
                             "200)")
    search.add_argument("--n-initial", type=_positive_int, default=10,
                        help="random architectures before the GP takes over (default: 10)")
    search.add_argument("--batch-size", type=_positive_int, default=None,
                        help="images per batch: of training with --evaluator train (default: 256), of the one "
                             "scoring batch with naswot (default: 128)")
    search.add_argument("--lr", type=_positive_float, default=TRAINING_LR,
                        help=f"initial learning rate of training with --evaluator train (default: {TRAINING_LR:g})")
    search.add_argument("--device", default="auto",
                        help="torch device of the evaluations and the GP: auto (CUDA when present), cpu, cuda, "
                             "cuda:1, ... (default: auto)")
    search.add_argument("--timeout", type=_positive_float, default=None,
                        help="seconds one evaluation may take before it is a failed trial (default: no limit)")
    search.add_argument("--workers", type=_positive_int, default=2, help="evaluations at once (default: 2)")
    search.add_argument("--epochs", type=_positive_int, default=12, help="training epochs with --evaluator train "
                        "(default: 12)")
    search.add_argument("--encoding", default="tw", choices=list(ENCODINGS), help="the GP's architecture encoding "
                        "(default: tw)")
    search.add_argument("--seed", type=int, default=0, help="seeds the search, the data split and the networks "
                        "(default: 0)")
    search.add_argument("--max-params", type=_positive_int, default=None,
                        help="only cells whose network has at most this many trainable parameters, counted before "
                             "any evaluation (default: no limit)")
    search.add_argument("--max-flops", type=_positive_int, default=None,
                        help="only cells whose network takes at most this many FLOPs on one image (torch's "
                             "FlopCounterMode: 2 per multiply-add), counted before any evaluation; with "
                             "--max-params, both hold (default: no limit)")
    search.add_argument("--size-prior", action="store_true",
                        help="cheap signals before training: the log params of each cell's untrained network "
                             "become the GP's prior mean and pick the initial cells (bonas.SizeSignals, "
                             "Optimizer(prior=...)); not with --fidelities (default: off)")
    search.add_argument("--objectives", type=_search_objectives, default=None,
                        help="NAME,params: search the trade-off between the evaluator's value (maximised, called "
                             "NAME, e.g. accuracy) and the parameter count (minimised, counted before training); "
                             "prints the Pareto front and plots it to DIR/front.png of --out (default: the value "
                             "alone)")
    search.add_argument("--out", type=_out_folder, default=None, metavar="DIR",
                        help="folder of the search: its journal (DIR/journal.jsonl unless --journal is given; an "
                             "existing one is resumed) and, at the end or on Ctrl-C, what bonas report --out "
                             "writes: trials.csv, progress.png and with --objectives front.png (default: a new "
                             "folder runs/search/YYYYmmdd-HHMMSS; with --journal and no --out, only the journal)")
    search.add_argument("--journal", type=_journal, default=None,
                        help="JSON Lines journal of the search; an existing one is resumed (default: "
                             "DIR/journal.jsonl of --out); the journal records the evaluator, its data, epochs and "
                             "seed, and a resume with other ones is refused")
    search.add_argument("--force", action="store_true",
                        help="resume a journal whose values came from another evaluator, data, epochs or seed")
    search.set_defaults(run=_search)

    report = commands.add_parser(
        "report", help="print where a search stands from its journal; write trials.csv and plots",
        description="Reads a journal without its lock, so it works while a search is writing it (a torn last line "
                    "is left out and reported). Prints the trials done, running and failed, the best so far with "
                    "its architecture string (the Pareto front with several objectives), the last improvement "
                    "and the failures grouped by error.",
    )
    report.add_argument("path", type=Path, metavar="JOURNAL", help="the journal (a .jsonl file)")
    report.add_argument("--out", type=_out_folder, default=None, metavar="DIR",
                        help="folder to write trials.csv (one row per trial: trial id, state, values, times, info "
                             "fields, architecture), progress.png (best so far against trials and against "
                             "wall-clock time) and, for a journal of two objectives, front.png (default: print "
                             "only)")
    report.set_defaults(run=_report)

    cate = commands.add_parser(
        "pretrain-cate", help="pretrain a CATE transformer on a space's architectures and write a checkpoint",
        description="Pairs architectures of similar cost (NB201: FLOPs of all 15,625 cells; NB101 and DARTS: "
                    "parameters of sampled cells; any other space: its built networks' parameters or FLOPs), masks "
                    "20% of their ops and trains a transformer to predict them from the pair. "
                    "The checkpoint (.pt weights + .json) is what encoding='cate' loads.",
    )
    cate.add_argument("--space", default=load_space("nb201"), type=_space, metavar="SPACE",
                      help=_space_help(space_names()))
    cate.add_argument("--cost", default=None, choices=("params", "flops"),
                      help="pair architectures by their built networks' parameters or FLOPs (default: the space's "
                           "cost model: nb201 FLOPs from the table, nb101 and darts parameters; params for any "
                           "other space)")
    cate.add_argument("--out", type=Path, required=True, help="checkpoint path, ending in .pt")
    cate.add_argument("--epochs", type=_positive_int, default=10, help="passes over the pairs (default: 10)")
    cate.add_argument("--samples", type=_positive_int, default=200_000,
                      help="architectures sampled (all but nb201) before one per class is kept (default: 200000)")
    cate.add_argument("--k", type=_positive_int, default=2, help="partners per architecture (default: 2)")
    cate.add_argument("--window", type=float, default=None,
                      help="cost window of a pair (default: 4%% of the space's cost range)")
    cate.add_argument("--d-model", type=_positive_int, default=64, help="model width (default: 64)")
    cate.add_argument("--heads", type=_positive_int, default=4, help="attention heads (default: 4)")
    cate.add_argument("--graph-layers", type=_positive_int, default=4, help="graph encoder layers (default: 4)")
    cate.add_argument("--cross-layers", type=_positive_int, default=2, help="cross encoder layers (default: 2)")
    cate.add_argument("--batch-size", type=_positive_int, default=1024, help="pairs per step (default: 1024)")
    cate.add_argument("--lr", type=float, default=1e-3, help="AdamW peak learning rate (default: 1e-3)")
    cate.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda (default: auto)")
    cate.add_argument("--seed", type=int, default=0, help="seeds sampling, pairing, masking and weights")
    cate.set_defaults(run=_pretrain_cate)
    return parser


def _int_at_least(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1, "a positive integer")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value:g}")
    return value


def _non_negative_int(text: str) -> int:
    return _int_at_least(text, 0, "an integer 0 or more")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bonas`` console script."""
    args = build_parser().parse_args(argv)
    args.argv = None if argv is None else list(argv)[1:]
    console = command_console()
    try:
        return args.run(args, console)
    except KeyboardInterrupt:
        journal = getattr(args, "journal", None)
        console.print(f"interrupted: bonas {args.command} stopped"
                      + (f"; {journal} holds every trial told so far (resume with --journal {journal})"
                         if journal is not None else ""), soft_wrap=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""bonas inside Ray Tune: ``BonasSearch`` proposes NAS-Bench-201 cells with a TW-GP, ASHA stops the bad ones early.

Each trial's config holds the cell: ``config["arch"]``, its string, and ``config["ops"]``, the six edge ops. The
trainable looks the cell up in the CIFAR-100 table and reports one accuracy per "epoch" of ``EPOCHS``: the table
holds only the 12- and 200-epoch accuracies, so the curve between them is interpolated (linear in log-epochs);
put your training there. A trial ASHA stops before the last epoch is recorded in bonas as pruned (its accuracy is
a shorter training's), one that reaches it is told its accuracy. Needs Ray Tune (``pip install bonas[tune]``);
about a minute on two CPU cores. Usage: ``python examples/ray_tune_search.py``.
"""

import math
from pathlib import Path

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler

import bonas
from bonas.integrations.ray_tune import BonasSearch

TABLE = bonas.NASBench201Table("cifar100")
EPOCHS = (12, 25, 50, 100, 200)


def train(config: dict) -> None:
    cell = TABLE.query(config["arch"])  # train the cell here
    for epoch in EPOCHS:
        share = math.log(epoch / 12) / math.log(200 / 12)
        tune.report({"accuracy": cell.test_accuracy_12ep + share * (cell.test_accuracy - cell.test_accuracy_12ep)})


def main() -> None:
    ray.init(num_cpus=2, include_dashboard=False)
    search = BonasSearch(bonas.NASBench201Space(), metric="accuracy", mode="max", max_t=len(EPOCHS), n_initial=6,
                         seed=0)
    tuner = tune.Tuner(
        train,
        tune_config=tune.TuneConfig(search_alg=search, num_samples=24, max_concurrent_trials=2, reuse_actors=True,
                                    scheduler=ASHAScheduler(metric="accuracy", mode="max", max_t=len(EPOCHS),
                                                            grace_period=1, reduction_factor=2)),
        run_config=tune.RunConfig(storage_path=str(Path("runs/ray").resolve()), verbose=0))
    tuner.fit()
    ray.shutdown()
    best, trials = search.optimizer.best_trial, search.optimizer.trials
    pruned = sum(trial.info.get("pruned", False) for trial in trials)
    print(f"{len(trials)} trials, {pruned} stopped early by ASHA; best {best.arch_str}: test accuracy "
          f"{best.value:.2f} % (table optimum {TABLE.optimum():.2f} %)")


if __name__ == "__main__":
    main()

"""Search NAS-Bench-201 cells by really training them: scikit-learn's 8x8 digits, 20 trials, 2 workers.

Each trial trains a small NB201 network (C=16, one cell per stage, 8 epochs)
in its own process and reports its validation accuracy; the GP proposes the
next cells while two train. On a GPU the same script trains there, in mixed
precision. About three minutes on two CPU cores. Needs scikit-learn.
Usage: ``python examples/digits_nb201.py``.
"""

import time

import bonas
from bonas.evaluators import TrainingEvaluator, digits


def main() -> None:
    train, val = digits(val_fraction=0.25, seed=0)
    evaluator = TrainingEvaluator(train, val, epochs=8, batch_size=64, lr=0.1, seed=0, channels=16,
                                  cells_per_stage=1, space=bonas.NASBench201Space(), num_threads=1)
    opt = bonas.Optimizer(bonas.NASBench201Space(), encoding="tw", n_initial=8, seed=0)
    start = time.perf_counter()
    bonas.run(opt, evaluator, backend=bonas.LocalBackend(n_workers=2), n_trials=20, max_in_flight=4)
    best = opt.best_trial
    failed = sum(trial.state == bonas.TrialState.FAILED for trial in opt.trials)
    print(f"{len(opt.trials)} trials ({failed} failed) in {time.perf_counter() - start:.0f} s")
    print(f"best cell {best.arch_str}: validation accuracy {best.value:.2f} % "
          f"({best.info['params']:,} parameters, {best.info['train_time_s']:.1f} s on {best.info['device']})")
    print(f"the same cell's NAS-Bench-201 CIFAR-10 test accuracy: "
          f"{bonas.NASBench201Table('cifar10').query(best.arch).test_accuracy:.2f} %")


if __name__ == "__main__":
    main()

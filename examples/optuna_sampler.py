"""bonas inside Optuna: ``BonasSampler`` proposes NAS-Bench-201 cells with a TW-GP, Optuna runs the study.

The six edge ops are categorical parameters ``edge_0`` .. ``edge_5`` (``NB201_PARAMS``); ``params_to_arch`` turns
a trial's values into the cell, ``arch_to_params`` a cell into values (here to enqueue a cell as a warm start).
The objective looks the cell up in the CIFAR-100 table; put your training there. Needs Optuna
(``pip install bonas[optuna]``); about 20 s on two CPU cores. Usage: ``python examples/optuna_sampler.py``.
"""

import optuna

from bonas import NB201_OPS, NASBench201Space, NASBench201Table
from bonas.integrations.optuna import NB201_PARAMS, BonasSampler, arch_to_params, params_to_arch

space, table = NASBench201Space(), NASBench201Table("cifar100")


def objective(trial: optuna.Trial) -> float:
    cell = params_to_arch(space, {name: trial.suggest_categorical(name, NB201_OPS) for name in NB201_PARAMS})
    return table.query(cell).test_accuracy  # train and evaluate the cell here


optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(direction="maximize", sampler=BonasSampler(space, n_initial=10, seed=0))
study.enqueue_trial(arch_to_params(space, space.from_indices("333333")))  # a cell you already like
study.optimize(objective, n_trials=30)
best = params_to_arch(space, study.best_params)
print(f"best of {len(study.trials)} trials: {space.to_str(best)}, test accuracy {study.best_value:.2f} % "
      f"(table optimum {table.optimum():.2f} %)")

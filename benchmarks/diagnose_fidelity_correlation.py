"""What correlation between fidelities a multi-fidelity bonas search learns: its index kernel after each fit.

Replays multi-fidelity bonas (``tw``, NB201 12-epoch validation and 200-epoch test accuracy) for ``--steps``
evaluations of one seed and prints, after every promotion to 200 epochs and every ``--every`` evaluations, the
value told and the fidelity kernel's covariance ``B`` between the two fidelities (its index kernel's
``covar_matrix``, read from the kernel state the search journals) with the correlation it implies.

    python benchmarks/diagnose_fidelity_correlation.py --dataset cifar100 --seed 6 --steps 120
"""

from __future__ import annotations

import argparse

import torch

from bonas.fidelity import FidelityCorrelationKernel
from bonas.replay.fidelity import NB201_FIDELITIES, fidelity_table, make_strategy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar100")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--every", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = fidelity_table(args.dataset)
    strategy = make_strategy("tw", table.space, args.seed, NB201_FIDELITIES)
    index = FidelityCorrelationKernel(len(NB201_FIDELITIES), 0).double()
    print("evaluation fidelity value correlation B")
    for step in range(1, args.steps + 1):
        arch, fidelity = strategy.ask()
        value = table.value(arch, fidelity)
        strategy.tell(arch, fidelity, value)
        state = strategy.optimizer.surrogate.kernel_state
        if state is None or (fidelity != NB201_FIDELITIES[-1] and step % args.every):
            continue
        prefix = next(name for name in state if name.endswith("raw_var"))[: -len("raw_var")]
        index.load_state_dict({name[len(prefix):]: tensor for name, tensor in state.items()
                               if name.startswith(prefix)}, strict=False)
        covariance = index.covar_matrix.detach()
        correlation = covariance[0, 1] / (covariance[0, 0] * covariance[1, 1]).sqrt()
        print(f"{step:10d} {fidelity:8d} {value:5.1f} {float(correlation):11.3f} "
              f"{[round(float(x), 3) for x in covariance.reshape(-1)]}", flush=True)


if __name__ == "__main__":
    main()

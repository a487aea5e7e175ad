#!/usr/bin/env bash
# Regenerates the NAS-Bench-201 replay results of benchmarks/RESULTS.md: 30 seeds, 150 queries, every method,
# CIFAR-10, CIFAR-100 and ImageNet16-120 (objective: 200-epoch test accuracy). Usage: bash benchmarks/run_replays.sh [dataset ...]
set -euo pipefail
cd "$(dirname "$0")/.."
datasets=("$@")
[ ${#datasets[@]} -gt 0 ] || datasets=(cifar10 cifar100 ImageNet16-120)
for dataset in "${datasets[@]}"; do
    out="benchmarks/replays/nb201-${dataset}"
    start=$(date +%s)
    bonas replay --space nb201 --dataset "$dataset" --methods tw,path,wl,random,rea,ls,bananas \
        --queries 150 --seeds 30 --batch-size 1 --jobs 2 --out "$out"
    echo "wall time ${dataset}: $(( $(date +%s) - start )) s" | tee "$out/wall_time.txt"
done

#!/usr/bin/env bash
# CATE jobs for a GPU machine (16 cores): pretrain the NB101 checkpoint on CUDA, then CATE-GP replays and the
# NB101 surrogate rows on its CPUs. Writes into $1: nb101.pt/.json, replays.tar.gz, surrogates_cate_nb101.csv.
set -u
out=$1
mkdir -p "$out" runs
timeout 200 bonas pretrain-cate --space nb101 --epochs 10 --device cuda \
    --out encoders/cate/checkpoints/nb101.pt
cp encoders/cate/checkpoints/nb101.pt encoders/cate/checkpoints/nb101.json "$out"/
timeout 90 bonas replay --space nb101 --methods cate --queries 150 --seeds 30 --jobs 16 --out runs/nb101-cate
tar czf "$out"/replays.tar.gz runs
for dataset in cifar10 cifar100 ImageNet16-120; do
    timeout 70 bonas replay --space nb201 --dataset $dataset --methods cate --queries 150 --seeds 30 --jobs 16 \
        --out runs/nb201-$dataset-cate
    tar czf "$out"/replays.tar.gz runs
done
timeout 40 python3 benchmarks/bench_surrogates.py --seeds 10 --sizes 50 100 200 --transforms standardize \
    --datasets nb101 --pairs cate/matern-iso --out "$out"/surrogates_cate_nb101.csv

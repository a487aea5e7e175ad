"""Tabular NAS benchmarks shipped with bonas: NAS-Bench-201 and a NAS-Bench-101 sample."""

from bonas.nasbench.nb101 import NASBench101Table, NB101Record
from bonas.nasbench.nb201 import DATASETS as NB201_DATASETS
from bonas.nasbench.nb201 import LATENCY_DEVICES, NASBench201Table, NB201Record

__all__ = ["LATENCY_DEVICES", "NB101Record", "NASBench101Table", "NB201_DATASETS", "NASBench201Table", "NB201Record"]

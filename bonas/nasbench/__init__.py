"""Tabular NAS benchmarks shipped with bonas: NAS-Bench-201, a NAS-Bench-101 sample and 725 NAS-Bench-301 cells."""

from bonas.nasbench.nb101 import NASBench101Table, NB101Record
from bonas.nasbench.nb201 import DATASETS as NB201_DATASETS
from bonas.nasbench.nb201 import LATENCY_DEVICES, NASBench201Table, NB201Record
from bonas.nasbench.nb301 import ZERO_COST_PROXIES as NB301_ZERO_COST_PROXIES
from bonas.nasbench.nb301 import NASBench301Table, NB301Record

__all__ = [
    "LATENCY_DEVICES",
    "NB101Record",
    "NASBench101Table",
    "NB201_DATASETS",
    "NASBench201Table",
    "NB201Record",
    "NB301Record",
    "NASBench301Table",
    "NB301_ZERO_COST_PROXIES",
]

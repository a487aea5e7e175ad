"""Trainable torch networks built from search-space architectures (NAS-Bench-201, NAS-Bench-101)."""

from bonas.networks.build import ParamBudget, WithParams, build_network, check_input, count_params
from bonas.networks.nb101 import NB101Network
from bonas.networks.nb201 import NB201Network

__all__ = ["NB101Network", "NB201Network", "ParamBudget", "WithParams", "build_network", "check_input", "count_params"]

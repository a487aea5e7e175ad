"""Trainable torch networks built from search-space architectures (NB201, NB101, DARTS, user cells)."""

from bonas.networks.build import (AllOf, FlopBudget, ParamBudget, SizeSignals, WithParams, build_network,
                                  cell_network, check_input, count_flops, count_params)
from bonas.networks.darts import PUBLISHED_GENOTYPES, DARTSNetwork, darts_param_count
from bonas.networks.nb101 import NB101Network
from bonas.networks.nb201 import NB201Network

__all__ = ["AllOf", "DARTSNetwork", "FlopBudget", "NB101Network", "NB201Network", "PUBLISHED_GENOTYPES",
           "ParamBudget", "SizeSignals", "WithParams", "build_network", "cell_network", "check_input", "count_flops",
           "count_params", "darts_param_count"]

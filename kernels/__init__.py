"""GP kernels over architecture encodings: tree-Wasserstein (TW-NAS), Tanimoto for counts, and a by-name factory."""

from bonas.kernels.factory import KERNEL_NAMES, KERNELS, EncodingScaleKernel, make_kernel, register_kernel
from bonas.kernels.tanimoto import TanimotoKernel
from bonas.kernels.tree_wasserstein import TreeWassersteinKernel, check_groups

__all__ = [
    "KERNEL_NAMES",
    "KERNELS",
    "EncodingScaleKernel",
    "TanimotoKernel",
    "TreeWassersteinKernel",
    "check_groups",
    "make_kernel",
    "register_kernel",
]

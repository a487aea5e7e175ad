"""Image classification data for the evaluators: arrays, a torch ``Dataset`` or a local CIFAR-10 folder.

Everything is checked where it is given (shapes, labels, finite pixels), so a
bad data set fails at construction, not inside a worker. In-memory data
(:class:`ArrayData`) is batched by index on the training device; a user's
``Dataset`` goes through a ``DataLoader``. :class:`CIFAR10Folder` reads
torchvision's ``cifar-10-batches-py`` pickles itself (torchvision is not
needed) when a worker first uses it, so only the folder's path is pickled.

The batch files are pickles, and a plain ``pickle.load`` runs whatever code a
crafted file names. They are read with :class:`CIFAR10Unpickler`, which builds
only what a CIFAR-10 batch holds (dicts, lists, strings, numbers and numpy
arrays) and refuses any other global, so a folder from elsewhere cannot run code.
"""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from bonas.validation import is_integer

CIFAR10_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
CIFAR10_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)
"""NAS-Bench-201's CIFAR normalisation."""


class ArrayData:
    """Images ``x`` (``n x c x h x w`` float32) and labels ``y`` (``n`` int64), checked.

    :param name: how errors call this data, e.g. ``"train_data"``.
    """

    def __init__(self, x: Any, y: Any, name: str = "data") -> None:
        x = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x)
        y = torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y)
        if x.ndim != 4:
            raise ValueError(f"{name} images must be n x c x h x w, got shape {tuple(x.shape)}")
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"{name} labels must be a vector of {len(x)} labels (one per image), got shape "
                             f"{tuple(y.shape)}")
        if len(x) == 0:
            raise ValueError(f"{name} holds no images")
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise ValueError(f"{name} labels must be integers, got dtype {y.dtype}")
        if int(y.min()) < 0:
            raise ValueError(f"{name} labels must be 0 .. num_classes - 1, got {int(y.min())}")
        x = x.float()
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} images hold NaN or infinite values")
        self.x, self.y = x.contiguous(), y.long()

    def __len__(self) -> int:
        return len(self.x)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])

    @property
    def num_labels(self) -> int:
        """The largest label + 1."""
        return int(self.y.max()) + 1

    def to(self, device: torch.device) -> "ArrayData":
        """The same data on ``device``."""
        moved = copy.copy(self)
        moved.x, moved.y = self.x.to(device), self.y.to(device)
        return moved


class CIFAR10Folder:
    """CIFAR-10 from a local folder in torchvision's format, normalised as NAS-Bench-201 does.

    The batch pickles are read by :func:`read_cifar10_batch`, which runs no code
    from them: a file that names any global besides numpy's array builders is
    refused with a ``ValueError`` naming it.

    :param root: the folder holding ``cifar-10-batches-py`` (or that folder itself).
    :param split: ``"train"`` (the five data batches, 50,000 images) or ``"test"`` (10,000).
    """

    image_shape = (3, 32, 32)
    num_labels = 10

    def __init__(self, root: str | Path, split: str = "train") -> None:
        if split not in ("train", "test"):
            raise ValueError(f"unknown CIFAR-10 split {split!r}; expected 'train' or 'test'")
        folder = Path(root)
        if (folder / "cifar-10-batches-py").is_dir():
            folder = folder / "cifar-10-batches-py"
        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        missing = [name for name in names if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{folder} is not a CIFAR-10 folder in torchvision's format: missing {missing}")
        self.files = tuple(str(folder / name) for name in names)
        self.split = split

    def load(self) -> ArrayData:
        """The images and labels (read once per process)."""
        return _read_cifar10(self.files)

    def __len__(self) -> int:
        return len(self.load())

    def __repr__(self) -> str:
        return f"CIFAR10Folder({str(Path(self.files[0]).parent)!r}, split={self.split!r})"


class _ArrayType:
    """Stands for ``numpy.ndarray`` in a pickle: only an argument of ``_reconstruct``, never called."""

    def __init__(self, *args: Any) -> None:
        raise pickle.UnpicklingError("refused a direct call of numpy.ndarray (it can point an array at any memory)")


class _ArrayBuilder:
    """What a pickled array's ``_reconstruct`` gives here; its ``__setstate__`` checks the state, then builds it."""

    array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("an array's state is not (version, shape, dtype, fortran, data)")
        shape, dtype, fortran, raw = state[-4:]
        self.array = _checked_array(raw, dtype, shape, "F" if fortran else "C")


def _checked_array(raw: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    """An array that owns a copy of ``raw``: plain numbers only, its size exactly the bytes the pickle holds."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise pickle.UnpicklingError(f"refused an array of dtype {dtype!r}: only plain numeric arrays are read")
    if not isinstance(shape, tuple) or not all(is_integer(n) and n >= 0 for n in shape):
        raise pickle.UnpicklingError(f"an array's shape is {shape!r}, not a tuple of sizes")
    shape = tuple(int(n) for n in shape)  # Python ints: a product of numpy ones could wrap around
    if not isinstance(raw, (bytes, bytearray)) or math.prod(shape) * dtype.itemsize != len(raw):
        raise pickle.UnpicklingError(f"an array of shape {shape} and dtype {dtype} does not match its "
                                     f"{len(raw) if isinstance(raw, (bytes, bytearray)) else 'missing'} data bytes")
    return np.frombuffer(bytes(raw), dtype=dtype).reshape(shape, order=order).copy()


def _reconstruct(array_type: Any, shape: Any, typecode: Any) -> _ArrayBuilder:
    if array_type is not _ArrayType:
        raise pickle.UnpicklingError(f"refused _reconstruct of {array_type!r}: only numpy.ndarray")
    return _ArrayBuilder()


def _frombuffer(raw: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    return _checked_array(raw, dtype, shape, "F" if order == "F" else "C")


def _scalar(dtype: Any, raw: Any = None) -> Any:
    return _checked_array(raw, dtype, (), "C")[()]


def _latin1(text: Any, encoding: Any = "latin1") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refused _codecs.encode with {encoding!r}")
    return text.encode("latin1")


_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _ArrayType,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1,
    **{(f"{core}.multiarray", "_reconstruct"): _reconstruct for core in ("numpy.core", "numpy._core")},
    **{(f"{core}.multiarray", "scalar"): _scalar for core in ("numpy.core", "numpy._core")},
    **{(f"{core}.numeric", "_frombuffer"): _frombuffer for core in ("numpy.core", "numpy._core")},
}
"""What a CIFAR-10 batch may name, and what stands for it here: numpy's array and scalar builders (under
``numpy.core`` in numpy 1, ``numpy._core`` in numpy 2) replaced by checked ones, and the ``_codecs.encode`` a
protocol-2 pickle rebuilds bytes with."""


class CIFAR10Unpickler(pickle.Unpickler):
    """An unpickler that builds plain data and plain numeric numpy arrays only: any other global is refused.

    numpy's own builders are not handed out: ``numpy.ndarray`` called on a crafted buffer can point an object
    array at any address (a crash on first use) or a huge array at a few bytes, so arrays are rebuilt by
    :func:`_checked_array` from exactly the bytes the file holds, and object or structured dtypes are refused.

    :raises pickle.UnpicklingError: the pickle names a global outside the allowed few, or an array that is not
        plain numbers of the size its bytes give, naming it.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[module, name]
        raise pickle.UnpicklingError(f"refused global {module}.{name}: a CIFAR-10 batch holds only plain data and "
                                     f"numpy arrays")


def _built(value: Any) -> Any:
    """``value`` with each :class:`_ArrayBuilder` replaced by its array (dicts, lists and tuples walked)."""
    if isinstance(value, _ArrayBuilder):
        if value.array is None:
            raise pickle.UnpicklingError("an array without its state")
        return value.array
    if isinstance(value, dict):
        return {key: _built(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_built(item) for item in value)
    return value


def read_cifar10_batch(file: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The ``n x 3 x 32 x 32`` uint8 images and ``n`` labels of one CIFAR-10 batch file, read without running code.

    :raises ValueError: the file is not a CIFAR-10 batch (a refused global, a corrupt pickle, missing or
        misshapen ``data`` / ``labels``), naming the file and why.
    """
    try:
        with open(file, "rb") as handle:
            batch = _built(CIFAR10Unpickler(handle, encoding="bytes").load())
    except Exception as error:  # a crafted or truncated pickle can make the unpickler raise almost anything
        raise ValueError(f"{file} is not a readable CIFAR-10 batch: {type(error).__name__}: {error}") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        found = sorted(map(repr, batch)) if isinstance(batch, dict) else f"a {type(batch).__name__}"
        raise ValueError(f"{file} is not a CIFAR-10 batch: expected a dict with b'data' and b'labels', got {found}")
    data, labels = batch[b"data"], batch[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        found = (f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray)
                 else f"a {type(data).__name__}")
        raise ValueError(f"{file}: b'data' must be a uint8 array of n x 3072 pixels, got {found}")
    labels = np.asarray(labels) if isinstance(labels, (list, tuple, np.ndarray)) else np.empty(0, dtype=object)
    if (labels.shape != (len(data),) or labels.dtype.kind not in "iu"
            or (len(labels) and not 0 <= labels.min() <= labels.max() < CIFAR10Folder.num_labels)):
        raise ValueError(f"{file}: b'labels' must be a list of {len(data)} integer labels 0 .. 9, one per image")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


@lru_cache(maxsize=4)
def _read_cifar10(files: tuple[str, ...]) -> ArrayData:
    images, labels = [], []
    for file in files:
        file_images, file_labels = read_cifar10_batch(file)
        images.append(file_images)
        labels.extend(file_labels)
    x = torch.from_numpy(np.concatenate(images)).float().div_(255)
    x = (x - torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)) / torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    return ArrayData(x, np.asarray(labels), name=str(Path(files[0]).parent))


ImageData = Union[ArrayData, CIFAR10Folder, Dataset]
"""What the evaluators take, once :func:`as_image_data` has checked it."""


def as_image_data(data: Any, name: str) -> ImageData:
    """Check ``data`` — an ``(images, labels)`` pair of arrays or tensors, a :class:`CIFAR10Folder`
    or a ``Dataset`` of ``(c x h x w image, int label)`` items — and return it ready for :func:`batches`."""
    if isinstance(data, (ArrayData, CIFAR10Folder)):
        return data
    if isinstance(data, Dataset):
        if len(data) == 0:
            raise ValueError(f"{name} is an empty Dataset")
        image, label = data[0]
        if torch.as_tensor(image).ndim != 3:
            raise ValueError(f"{name} items must be (c x h x w image, label), got an image of shape "
                             f"{tuple(torch.as_tensor(image).shape)}")
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return ArrayData(*data, name=name)
    raise TypeError(f"{name} must be an (images, labels) pair, a CIFAR10Folder or a torch Dataset, got "
                    f"{type(data).__name__}")


def image_shape(data: ImageData) -> tuple[int, int, int]:
    """``(c, h, w)`` of the images."""
    if isinstance(data, (ArrayData, CIFAR10Folder)):
        return tuple(data.image_shape)
    return tuple(torch.as_tensor(data[0][0]).shape)


def resident(data: ImageData, device: torch.device) -> ImageData:
    """In-memory data moved to ``device`` once (a CIFAR-10 folder read first); a ``Dataset`` as it is."""
    if isinstance(data, CIFAR10Folder):
        data = data.load()
    return data.to(device) if isinstance(data, ArrayData) else data


def batches(data: ImageData, batch_size: int, device: torch.device, generator: torch.Generator | None = None
            ) -> Iterator[tuple[Tensor, Tensor]]:
    """``(batch x c x h x w images, batch labels)`` on ``device``, shuffled by ``generator`` when given.

    ``data`` comes from :func:`resident`. A shuffled last batch of a single
    image is left out (batch norm needs two).
    """
    if isinstance(data, ArrayData):
        order = torch.randperm(len(data), generator=generator) if generator is not None else torch.arange(len(data))
        chunks = (order[start: start + batch_size].to(data.x.device) for start in range(0, len(data), batch_size))
        pairs = ((data.x[indices], data.y[indices]) for indices in chunks)
    else:
        loader = DataLoader(data, batch_size=batch_size, shuffle=generator is not None, generator=generator)
        pairs = ((x.float().to(device), torch.as_tensor(y).long().to(device)) for x, y in loader)
    for x, y in pairs:
        if len(y) > 1 or generator is None:
            yield x, y


def n_batches(data: ImageData, batch_size: int) -> int:
    """How many training batches :func:`batches` gives per shuffled epoch."""
    size = len(data)
    return size // batch_size + (size % batch_size > 1)


def labels_of(data: ImageData) -> Tensor | None:
    """All labels of in-memory arrays; ``None`` for a CIFAR-10 folder (0 .. 9) or a ``Dataset`` (not scanned)."""
    return data.y if isinstance(data, ArrayData) else None


def augment(x: Tensor, generator: torch.Generator) -> Tensor:
    """Random 4-pixel-padded crops and horizontal flips, as NAS-Bench-201 trains on CIFAR: ``n x c x h x w``."""
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    shifts = torch.randint(0, 9, (2, n, 1), generator=generator).to(x.device)
    rows = (shifts[0] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (shifts[1] + torch.arange(w, device=x.device))[:, None, None, :]
    crops = padded[torch.arange(n, device=x.device)[:, None, None, None],
                   torch.arange(x.shape[1], device=x.device)[None, :, None, None], rows, cols]
    flips = (torch.rand(n, generator=generator) < 0.5).to(x.device)[:, None, None, None]
    return torch.where(flips, crops.flip(3), crops)


def digits(val_fraction: float = 0.25, seed: int = 0) -> tuple[ArrayData, ArrayData]:
    """scikit-learn's 1,797 8x8 digits as ``(train, val)``: ``n x 1 x 8 x 8`` images in [0, 1], 10 classes.

    The split is stratified and seeded. Needs scikit-learn (``pip install scikit-learn``).
    """
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as error:
        raise ImportError("the digits data set needs scikit-learn: pip install scikit-learn") from error
    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]
    x_train, x_val, y_train, y_val = train_test_split(images, bunch.target, test_size=val_fraction,
                                                      random_state=seed, stratify=bunch.target)
    return ArrayData(x_train, y_train, "digits train"), ArrayData(x_val, y_val, "digits val")

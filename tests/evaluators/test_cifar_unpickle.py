"""CIFAR-10 batch files are read without running code: a crafted pickle is refused, a real one loads."""

import os
import pickle

import numpy as np
import pytest

from bonas.cli import main
from bonas.evaluators import CIFAR10Folder
from bonas.evaluators.data import read_cifar10_batch

NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def cifar_batch(n: int = 4, seed: int = 0) -> dict:
    """A batch as CIFAR-10's python version holds it (bytes keys, as read with ``encoding="bytes"``)."""
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"training batch 1 of 5", b"labels": rng.integers(0, 10, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)]}


class WritesAFile:
    """Unpickling this runs ``exec``, which writes ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


class RunsAShellCommand:
    """Unpickling this runs ``os.system``, which touches ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def write_folder(root, crafted_payload=None) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    for index, name in enumerate(NAMES):
        batch = cifar_batch(seed=index)
        if crafted_payload is not None and name == "data_batch_1":
            batch[b"labels"] = crafted_payload
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


@pytest.mark.parametrize("payload, refused", [(WritesAFile, "exec"), (RunsAShellCommand, "system")])
def test_a_crafted_batch_is_refused_without_running_its_code(tmp_path, payload, refused):
    marker = tmp_path / "pwned"
    write_folder(tmp_path, payload(marker))
    with pytest.raises(ValueError, match=f"data_batch_1 is not a readable CIFAR-10 batch: UnpicklingError: "
                                         f"refused global .*{refused}"):
        CIFAR10Folder(tmp_path).load()
    assert not marker.exists()


def test_search_refuses_a_crafted_folder_in_one_line_and_writes_no_journal(tmp_path, capsys):
    marker, journal = tmp_path / "pwned", tmp_path / "search.jsonl"
    write_folder(tmp_path, WritesAFile(marker))
    code = main(["search", "--evaluator", "train", "--data", str(tmp_path), "--trials", "1",
                 "--journal", str(journal)])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1 and "data_batch_1 is not a readable CIFAR-10 batch" in lines[0]
    assert "Traceback" not in captured.err
    assert not marker.exists() and not journal.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_real_format_batch_loads(tmp_path, protocol):
    batch = cifar_batch(n=5)
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    images, labels = read_cifar10_batch(path)
    assert images.shape == (5, 3, 32, 32) and images.dtype == np.uint8
    np.testing.assert_array_equal(images.reshape(5, -1), batch[b"data"])
    assert labels.tolist() == batch[b"labels"]


def test_a_numpy_1_era_batch_loads(tmp_path):
    """CIFAR's own files name ``numpy.core.multiarray``, which numpy 2 moved to ``numpy._core``."""
    batch = cifar_batch(n=3)
    payload = pickle.dumps(batch, protocol=2)
    old = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray\n_reconstruct" in old
    path = tmp_path / "data_batch_1"
    path.write_bytes(old)
    images, labels = read_cifar10_batch(path)
    np.testing.assert_array_equal(images.reshape(3, -1), batch[b"data"])


@pytest.mark.parametrize("content, message", [
    (pickle.dumps([1, 2, 3], protocol=2), "expected a dict with b'data' and b'labels', got a list"),
    (pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}), "uint8 array of n x 3072 pixels"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}), "2 integer labels 0 .. 9"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), "2 integer labels 0 .. 9"),
    (pickle.dumps(cifar_batch(), protocol=2)[:100], "not a readable CIFAR-10 batch"),
])
def test_a_malformed_batch_is_named(tmp_path, content, message):
    path = tmp_path / "data_batch_1"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=str(path)) as error:
        read_cifar10_batch(path)
    assert message in str(error.value)


class CallsNdarray:
    """Unpickling this calls ``numpy.ndarray`` itself with ``args``: an object array over a made-up pointer, or a
    huge array over a few bytes with zero strides."""

    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return np.ndarray, self.args


@pytest.mark.parametrize("labels", [
    [CallsNdarray((1,), np.dtype("O"), b"A" * 8)],
    [CallsNdarray((10**7, 3072), "u1", b"\0", 0, (0, 0))],
    np.array([1, "x"], dtype=object),
    np.zeros(3, dtype=[("a", "<i4"), ("b", "O")]),
])
def test_arrays_that_are_not_plain_numbers_of_their_own_bytes_are_refused(tmp_path, labels):
    batch = cifar_batch()
    batch[b"labels"] = labels
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(ValueError, match="data_batch_1 is not a readable CIFAR-10 batch: UnpicklingError: refused"):
        read_cifar10_batch(path)


def test_an_array_whose_shape_does_not_match_its_bytes_is_refused(tmp_path):
    class ShortArray:
        def __reduce__(self):
            reconstruct = np.ndarray.__reduce__(np.zeros(1, np.uint8))
            state = reconstruct[2]
            return reconstruct[0], reconstruct[1], (state[0], (10**9,), state[2], state[3], state[4])

    batch = cifar_batch()
    batch[b"data"] = ShortArray()
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(ValueError, match="does not match its 1 data bytes"):
        read_cifar10_batch(path)

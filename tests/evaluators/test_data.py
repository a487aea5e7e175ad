"""Data sources: a CIFAR-10 folder in torchvision's format, augmentation."""

import pickle

import numpy as np
import pytest
import torch

import bonas
from bonas.evaluators import CIFAR10Folder, TrainingEvaluator
from bonas.evaluators.data import CIFAR10_MEAN, augment


def write_cifar10(root, n_per_batch: int = 6) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, n_per_batch).tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))


def test_a_cifar10_folder_is_read_without_torchvision(tmp_path):
    write_cifar10(tmp_path)
    train, test = CIFAR10Folder(tmp_path, "train"), CIFAR10Folder(tmp_path / "cifar-10-batches-py", "test")
    assert len(train) == 30 and len(test) == 6
    images = train.load().x
    assert images.shape == (30, 3, 32, 32)
    raw = pickle.loads((tmp_path / "cifar-10-batches-py" / "data_batch_1").read_bytes())[b"data"][0, 0]
    assert images[0, 0, 0, 0].item() * 63.0 / 255 + CIFAR10_MEAN[0] == pytest.approx(raw / 255, abs=1e-6)
    result = TrainingEvaluator(train, test, epochs=1, batch_size=8, channels=4, cells_per_stage=1, augment=True)(
        bonas.NASBench201Space().from_indices("333333"))
    assert 0 <= result["value"] <= 100


def test_a_missing_cifar10_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing \\['data_batch_1'"):
        CIFAR10Folder(tmp_path)
    with pytest.raises(ValueError, match="unknown CIFAR-10 split 'valid'"):
        CIFAR10Folder(tmp_path, "valid")


def test_augment_crops_and_flips_reproducibly():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    first = augment(x, torch.Generator().manual_seed(1))
    assert first.shape == x.shape
    assert torch.equal(first, augment(x, torch.Generator().manual_seed(1)))
    assert not torch.equal(first, augment(x, torch.Generator().manual_seed(2)))
    values = set(x[0].flatten().tolist()) | {0.0}
    assert set(first[0].flatten().tolist()) <= values

import numpy as np
import pytest

from bonas import NASBench101Space, NASBench101Table

TABLE = NASBench101Table()


def test_size_optimum_and_ranges():
    assert len(TABLE) == 20_001
    assert TABLE.optimum() == pytest.approx(94.911861)
    assert TABLE.query("096f593e0f12d65f6220bf8565b764a9").val_accuracy == pytest.approx(TABLE.optimum())
    params = TABLE.metric("params")
    assert params.min() == 227_274 and params.max() == 49_979_274
    assert TABLE.hashes() == sorted(TABLE.hashes())


def test_every_known_structure_finds_its_row_by_hash():
    archs = TABLE.architectures()
    assert len(archs) == 1_000
    space = NASBench101Space()
    hashes = TABLE.hashes()
    for row, arch in enumerate(archs):
        record = TABLE.query(arch)
        assert record.hash == hashes[row] == space.canonical_key(arch)
        assert record.arch == arch


def test_record_fields():
    record = TABLE.query("00005c142e6f48ac74fdcf73e3439874")
    assert record.val_accuracy == pytest.approx(93.048877)
    assert record.val_accuracy_4ep == pytest.approx(36.047676)
    assert record.train_time_s == pytest.approx(1768.975952)
    assert record.params == 8_555_530
    unknown_structure = TABLE.query(TABLE.hashes()[-1])
    assert unknown_structure.arch is None and 0 < unknown_structure.val_accuracy < 100


def test_sampled_cells_are_found_or_named():
    space = NASBench101Space()
    archs = space.sample(100, np.random.default_rng(0))
    found = [arch for arch in archs if arch in TABLE]
    assert 0 < len(found) < 100
    missing = next(arch for arch in archs if arch not in TABLE)
    with pytest.raises(KeyError, match=r"not in the bundled NAS-Bench-101 sample"):
        TABLE.query(missing)
    with pytest.raises(KeyError, match="ffff"):
        TABLE.query("ffff")
    with pytest.raises(ValueError, match="unknown NAS-Bench-101 metric 'test_accuracy'"):
        TABLE.metric("test_accuracy")

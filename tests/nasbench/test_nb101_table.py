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


def test_structures_find_their_row_by_hash():
    archs = TABLE.architectures()
    assert len(archs) == 20_001
    space = NASBench101Space()
    hashes = TABLE.hashes()
    for row in np.random.default_rng(1).choice(len(archs), size=500, replace=False).tolist():
        record = TABLE.query(archs[row])
        assert record.hash == hashes[row] == space.canonical_key(archs[row])
        assert record.arch == archs[row]


def test_record_fields():
    record = TABLE.query("00005c142e6f48ac74fdcf73e3439874")
    assert record.val_accuracy == pytest.approx(93.048877)
    assert record.val_accuracy_4ep == pytest.approx(36.047676)
    assert record.train_time_s == pytest.approx(1768.975952)
    assert record.params == 8_555_530
    assert NASBench101Space().to_str(record.arch) == ("input,conv3x3-bn-relu,maxpool3x3,conv3x3-bn-relu,"
                                                       "conv3x3-bn-relu,conv1x1-bn-relu,output|100110100001001010101")
    recovered = TABLE.query(TABLE.hashes()[-1])
    assert NASBench101Space().canonical_key(recovered.arch) == recovered.hash
    assert 0 < recovered.val_accuracy < 100


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

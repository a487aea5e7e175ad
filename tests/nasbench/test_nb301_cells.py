"""The bundled 725 NAS-Bench-301 cells: valid DARTS genotypes, the source's numbers, look-ups up to isomorphism."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from bonas.nasbench import NASBench301Table, NB301Record
from bonas.spaces.darts import DARTSArch, DARTSSpace

TABLE = NASBench301Table()
SPACE = DARTSSpace()
SOURCE = Path(__file__).resolve().parents[3] / "shared" / "data" / "nasbench301" / "nb301_naslib_zc_subset.json.gz"

FIRST = DARTSArch(
    normal=(("max_pool_3x3", 0), ("dil_conv_3x3", 1), ("avg_pool_3x3", 1), ("avg_pool_3x3", 0),
            ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("skip_connect", 3)),
    reduce=(("max_pool_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0),
            ("max_pool_3x3", 3), ("avg_pool_3x3", 0), ("max_pool_3x3", 2), ("dil_conv_5x5", 3)),
)


def test_725_valid_distinct_cells():
    archs = TABLE.architectures()
    assert len(TABLE) == len(archs) == 725
    for arch in archs:
        SPACE.validate(arch)
    assert len({SPACE.canonical_key(arch) for arch in archs}) == 725


def test_accuracy_range_and_units():
    accuracy = TABLE.metric("val_accuracy")
    assert accuracy.min() == pytest.approx(91.2366, abs=1e-4)
    assert accuracy.max() == pytest.approx(94.4889, abs=1e-4) == TABLE.optimum()
    assert np.median(accuracy) == pytest.approx(93.1588, abs=1e-4)
    assert 100e6 < TABLE.metric("flops").min() and TABLE.metric("flops").max() < 250e6
    assert 0.5e6 < TABLE.metric("params").min() and TABLE.metric("params").max() < 1.5e6
    assert np.isfinite(TABLE.metric("nwot")).all()


def test_first_row():
    assert TABLE.architectures()[0] == FIRST
    assert TABLE.query(FIRST) == NB301Record(index=0, arch_str=SPACE.to_str(FIRST), val_accuracy=93.32119084207302,
                                             flops=153_499_136, params=856_298, arch=FIRST)
    # NASLib's compact form of the same row
    assert SPACE.to_compact(FIRST) == (
        ((0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)),
        ((1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)),
    )


def test_string_round_trip():
    for row, arch in enumerate(TABLE.architectures()):
        text = SPACE.to_str(arch)
        assert SPACE.from_str(text) == arch
        assert TABLE.index(text) == row


def test_lookup_up_to_isomorphism():
    # swap the two pairs of every node: the same computation, another genotype
    swapped = DARTSArch(*(tuple(pair for k in range(4) for pair in (cell[2 * k + 1], cell[2 * k]))
                          for cell in (FIRST.normal, FIRST.reduce)))
    assert swapped != FIRST and swapped in TABLE
    assert TABLE.query(swapped).index == 0


def test_unknown_cell_and_metric():
    stranger = SPACE.sample(1, np.random.default_rng(0))[0]
    assert stranger not in TABLE
    with pytest.raises(KeyError, match="not among the 725"):
        TABLE.query(stranger)
    with pytest.raises(ValueError, match="unknown NAS-Bench-301 metric 'test_accuracy'"):
        TABLE.metric("test_accuracy")


@pytest.mark.skipif(not SOURCE.exists(), reason="the staged NASLib file is not in this checkout")
def test_matches_the_naslib_source():
    records = json.loads(gzip.decompress(SOURCE.read_bytes()))["archs"]
    archs = TABLE.architectures()
    assert len(records) == len(archs)
    for arch, record in zip(archs, records):
        assert SPACE.from_compact(record["compact"]) == arch == SPACE.from_genotype(record["genotype"])
    for name in ("val_accuracy", "nwot", "synflow"):
        np.testing.assert_array_equal(TABLE.metric(name), [record[name] for record in records])
    np.testing.assert_array_equal(TABLE.metric("flops"), [round(record["flops"] * 1e6) for record in records])

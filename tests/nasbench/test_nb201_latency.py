import csv
import gzip
from importlib import resources

import numpy as np
import pytest

from bonas.nasbench import LATENCY_DEVICES, NASBench201Table, nb201

# Medians (ms) as the data README rounds them: to 0.01 ms, raspi4 to 0.1 ms, pixel2 (whole ms) exactly.
MEDIANS = {"titan_rtx_256": 18.06, "gold_6226": 9.61, "pixel2": 15.0, "eyeriss": 5.12, "fpga": 3.72, "raspi4": 25.7}
MEDIAN_TOLERANCE = {"pixel2": 0.0, "raspi4": 0.05}
# HELP's Table 4 rows (CIFAR-100): latency limit (ms) -> best test accuracy of a cell within it, from the tables.
HELP_ROWS = {
    "titan_rtx_256": {18: 70.87, 21: 71.63, 25: 72.28},
    "gold_6226": {8: 69.33, 11: 71.50, 14: 72.75},
    "pixel2": {14: 71.52, 18: 71.83, 22: 73.04},
    "eyeriss": {5: 71.63, 7: 73.48, 9: 73.48},
    "fpga": {4: 71.63, 5: 72.28, 6: 73.48},
}


def constrained_optimum(table: NASBench201Table, device: str, limit: float) -> float:
    feasible = table.latency_column(device) <= limit
    return float(table.metric("test_accuracy")[feasible].max())


def test_header_is_the_device_list():
    source = resources.files("bonas.nasbench.data").joinpath("nb201_latency_ms.csv.gz")
    with source.open("rb") as raw, gzip.open(raw, "rt", newline="") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == ("arch_index", "arch_str", *LATENCY_DEVICES)
    assert len(LATENCY_DEVICES) == 27


def test_shape_and_no_missing_values():
    table = NASBench201Table("cifar10")
    latency = np.stack([table.latency_column(device) for device in LATENCY_DEVICES], axis=1)
    assert latency.shape == (15_625, len(LATENCY_DEVICES))
    assert not np.isnan(latency).any()
    assert (latency > 0).all()


@pytest.mark.parametrize("device", sorted(MEDIANS))
def test_medians_match_the_data_readme(device):
    median = float(np.median(NASBench201Table("cifar100").latency_column(device)))
    assert median == pytest.approx(MEDIANS[device], abs=MEDIAN_TOLERANCE.get(device, 0.005))


def test_hw_nas_bench_anchor():
    cell_0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    table = NASBench201Table("cifar10")
    assert table.index(cell_0) == 0
    assert table.latency(cell_0, "raspi4") == pytest.approx(10.4819768, abs=1e-6)


def test_latency_matches_the_column_and_is_per_cell():
    tables = [NASBench201Table(dataset) for dataset in nb201.DATASETS]
    cells = list(tables[0].architectures())
    for index in (0, 1, 6111, 9930, 15_624):
        arch = cells[index]
        for device in ("pixel2", "eyeriss", "titan_rtx_256"):
            expected = tables[0].latency_column(device)[tables[0].index(arch)]
            for table in tables:
                assert table.latency(arch, device) == expected
                assert table.latency(table.space.to_str(arch), device) == expected


def test_latency_column_is_a_copy():
    table = NASBench201Table("cifar10")
    column = table.latency_column("fpga")
    column[:] = -1.0
    assert table.latency_column("fpga").min() > 0


def test_unknown_device_names_the_known_ones():
    table = NASBench201Table("cifar10")
    known = r"expected one of \['1080ti_1', .*'titanxp_32'\]"
    with pytest.raises(KeyError, match=rf"unknown latency device 'pixel9'; {known}"):
        table.latency(next(table.architectures()), "pixel9")
    with pytest.raises(KeyError, match="unknown latency device 'Pixel2'"):
        table.latency_column("Pixel2")


def test_query_and_metrics_do_not_read_the_latency_file(monkeypatch):
    def refuse():
        raise AssertionError("the latency file was read")

    monkeypatch.setattr(nb201, "_load_latency", refuse)
    table = NASBench201Table("ImageNet16-120")
    assert table.query(next(table.architectures())).index == 0
    assert table.metric("test_accuracy").shape == (15_625,)
    assert table.optimum() > 0
    with pytest.raises(AssertionError, match="latency file was read"):
        table.latency_column("pixel2")


def test_loaded_once_per_process():
    NASBench201Table("cifar10").latency_column("pixel3")
    hits = nb201._load_latency.cache_info().hits
    NASBench201Table("cifar100").latency_column("pixel3")
    assert nb201._load_latency.cache_info().hits == hits + 1
    assert nb201._load_latency.cache_info().currsize == 1


def test_load_names_the_first_mismatch():
    header = ["arch_index", "arch_str", *LATENCY_DEVICES]
    values = ["1.0"] * len(LATENCY_DEVICES)
    arch_strs = ["|a~0|", "|b~0|", "|c~0|"]
    good = [header, ["0", "|a~0|", *values], ["1", "|b~0|", *values], ["2", "|c~0|", *values]]
    assert nb201._parse_latency(iter(good), arch_strs).shape == (3, len(LATENCY_DEVICES))
    with pytest.raises(RuntimeError, match=r"row 1 has arch_str '\|x~0\|'; the accuracy table has '\|b~0\|'"):
        nb201._parse_latency(iter([*good[:2], ["1", "|x~0|", *values], good[3]]), arch_strs)
    with pytest.raises(RuntimeError, match="row 2 has arch_index '3'; expected 2"):
        nb201._parse_latency(iter([*good[:3], ["3", "|c~0|", *values]]), arch_strs)
    with pytest.raises(RuntimeError, match="has 2 rows; the accuracy table has 3"):
        nb201._parse_latency(iter(good[:3]), arch_strs)
    with pytest.raises(RuntimeError, match="has columns"):
        nb201._parse_latency(iter([header[:-1], *good[1:]]), arch_strs)


def test_help_table_4_constrained_optima():
    table = NASBench201Table("cifar100")
    assert round(constrained_optimum(table, "pixel2", 14), 2) == 71.52
    for device, rows in HELP_ROWS.items():
        optima = [constrained_optimum(table, device, limit) for limit in sorted(rows)]
        assert [round(optimum, 2) for optimum in optima] == [rows[limit] for limit in sorted(rows)], device
        assert optima == sorted(optima), device
        assert optima[-1] <= table.optimum()

import numpy as np
import pytest

from bonas.nasbench import NASBench201Table
from bonas.spaces import NASBench201Space, NB201Arch

OPTIMA = {"cifar10": 94.3733, "cifar100": 73.5133, "ImageNet16-120": 47.3111}


@pytest.mark.parametrize("dataset", sorted(OPTIMA))
def test_optimum(dataset):
    assert NASBench201Table(dataset).optimum() == pytest.approx(OPTIMA[dataset], abs=1e-4)


@pytest.mark.parametrize(("dataset", "index"), [("cifar10", 6111), ("cifar100", 9930), ("ImageNet16-120", 857)])
def test_best_cells_are_the_published_ones(dataset, index):
    table = NASBench201Table(dataset)
    assert int(np.argmax(table.metric("test_accuracy"))) == index
    best = list(table.architectures())[index]
    record = table.query(best)
    assert record.index == index
    assert record.test_accuracy == pytest.approx(OPTIMA[dataset], abs=1e-4)
    assert table.query(record.arch_str) == record


def test_record_fields_and_units():
    record = NASBench201Table("cifar10").query("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
    assert record.index == 0
    assert record.test_accuracy == pytest.approx(85.8633, abs=1e-4)
    assert record.val_accuracy_12ep == pytest.approx(63.364)
    assert record.test_accuracy_12ep == pytest.approx(69.55)
    assert record.params == 129_306 and isinstance(record.params, int)
    assert record.flops == 17_958_592
    with pytest.raises(AttributeError):
        record.test_accuracy = 0.0


def test_covers_every_cell_of_the_space():
    table = NASBench201Table("cifar100")
    assert len(table) == 15_625
    assert set(table.architectures()) == set(NASBench201Space().enumerate())
    params = table.metric("params")
    assert params.min() == 73_306 + 5_850 and params.max() > 1_500_000


def test_low_fidelity_is_correlated_but_different():
    table = NASBench201Table("ImageNet16-120")
    full, short = table.metric("test_accuracy"), table.metric("test_accuracy_12ep")
    assert np.corrcoef(full, short)[0, 1] > 0.7
    assert short.max() < full.max()


def test_bad_queries_are_named():
    table = NASBench201Table("cifar10")
    with pytest.raises(ValueError, match="unknown op 'conv5x5'"):
        table.query(NB201Arch(("conv5x5",) * 6))
    with pytest.raises(ValueError, match="expected an NB201Arch"):
        table.query(("none",) * 6)
    with pytest.raises(ValueError, match="malformed NB201 string"):
        table.query("|none~0|")
    with pytest.raises(ValueError, match="unknown NAS-Bench-201 dataset 'imagenet'"):
        NASBench201Table("imagenet")
    with pytest.raises(ValueError, match="unknown NAS-Bench-201 metric 'accuracy'"):
        table.metric("accuracy")


def test_dataset_aliases():
    assert NASBench201Table("imagenet16_120").dataset == "ImageNet16-120"
    assert NASBench201Table("CIFAR10").dataset == "cifar10"

"""DARTS evaluation networks: published parameter counts, shapes, reductions, drop path, gradients, bad options."""

import pytest
import torch
from torch import nn

from bonas.networks.darts import (
    PUBLISHED_GENOTYPES,
    AuxiliaryPool,
    Cell,
    DARTSNetwork,
    FactorizedReduce,
    ReLUConvBN,
    darts_network,
    drop_path,
)
from bonas.spaces.darts import DARTSArch, DARTSSpace

SPACE = DARTSSpace()
DARTS_V2 = PUBLISHED_GENOTYPES["DARTS_V2"]

# (exact count, the published figure in M). Exact counts are those of the authors' own code: quark0/darts
# cnn/model.py NetworkCIFAR(36, 10, 20, auxiliary=True, genotype) built from each repository's genotypes.py
# gives the same numbers (and the same state-dict keys and shapes); 3349342 is DARTS_V2's "param size =
# 3.349342MB" of DARTS's training log. Published: DARTS_V2 3.3 M (DARTS, ICLR 2019, Table 1, second order);
# PC_DARTS 3.6 M (PC-DARTS, ICLR 2020, Table 1); P_DARTS 3.4 M (P-DARTS, ICCV 2019, Table 1). DARTS's Table 1
# also lists 3.3 M for the first-order cell, but the DARTS_V1 genotype released in genotypes.py counts 3.17 M.
PUBLISHED_PARAMS = {
    "DARTS_V1": (3_169_414, 3.2),
    "DARTS_V2": (3_349_342, 3.3),
    "PC_DARTS": (3_634_678, 3.6),
    "P_DARTS": (3_433_798, 3.4),
}


def count_parameters_in_mb(network: nn.Module) -> float:
    """DARTS's ``utils.count_parameters_in_MB``: every parameter outside the auxiliary head, in millions."""
    return sum(p.numel() for name, p in network.named_parameters() if "auxiliary" not in name) / 1e6


def tiny(arch: DARTSArch = DARTS_V2, **options) -> DARTSNetwork:
    torch.manual_seed(0)
    return DARTSNetwork(arch, 10, channels=4, layers=5, **options)


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_evaluation_network_params_match_the_published_figures(name):
    exact, published = PUBLISHED_PARAMS[name]
    with torch.device("meta"):
        network = DARTSNetwork(PUBLISHED_GENOTYPES[name], 10, channels=36, layers=20, auxiliary=True)
        built = darts_network(SPACE, PUBLISHED_GENOTYPES[name], 10, 3, 36, 6, auxiliary=True, drop_path_prob=0.2)
    assert count_parameters_in_mb(network) == exact / 1e6
    assert round(count_parameters_in_mb(network), 1) == published
    assert count_parameters_in_mb(built) == exact / 1e6
    assert len(built.cells) == 20


def test_published_genotypes_are_valid_darts_archs():
    assert set(PUBLISHED_GENOTYPES) == set(PUBLISHED_PARAMS)
    for arch in PUBLISHED_GENOTYPES.values():
        SPACE.validate(arch)
    assert DARTS_V2.normal[-1] == ("dil_conv_3x3", 2)
    assert SPACE.to_genotype(DARTS_V2)["reduce"][:2] == [["max_pool_3x3", 0], ["max_pool_3x3", 1]]


def test_evaluation_network_runs_on_the_meta_device_with_drop_path():
    with torch.device("meta"):
        network = darts_network(SPACE, DARTS_V2, 10, 3, 36, 1, auxiliary=True, drop_path_prob=0.2).train()
        logits, aux_logits = network(torch.zeros(2, 3, 32, 32))
    assert logits.shape == aux_logits.shape == (2, 10)


@pytest.mark.parametrize(("in_channels", "side"), [(3, 32), (1, 8)])
def test_forward_shapes_with_and_without_the_auxiliary_head(in_channels, side):
    images = torch.randn(3, in_channels, side, side)
    for auxiliary in (False, True):
        torch.manual_seed(0)
        network = DARTSNetwork(DARTS_V2, 7, in_channels=in_channels, channels=4, layers=5, auxiliary=auxiliary)
        output = network.train()(images)
        if auxiliary:
            logits, aux_logits = output
            assert logits.shape == aux_logits.shape == (3, 7)
        else:
            assert output.shape == (3, 7)
        assert network.eval()(images).shape == (3, 7)


def test_auxiliary_pool_is_dartss_on_8x8_and_adaptive_elsewhere():
    features = torch.randn(2, 5, 8, 8)
    darts_pool = nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False)
    torch.testing.assert_close(AuxiliaryPool()(features), darts_pool(features))
    small = torch.randn(2, 5, 2, 2)
    torch.testing.assert_close(AuxiliaryPool()(small), small)
    assert AuxiliaryPool()(torch.randn(2, 5, 16, 12)).shape == (2, 5, 2, 2)


def test_reduction_cell_halves_the_size_and_reduces_skips_by_factorized_reduce():
    reduce = (("skip_connect", 0), ("skip_connect", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
              ("sep_conv_3x3", 0), ("dil_conv_5x5", 3), ("avg_pool_3x3", 1), ("skip_connect", 4))
    arch = DARTSArch(DARTS_V2.normal, reduce)
    cell = Cell(reduce, 12, 12, 8, reduction=True, reduction_prev=False)
    assert [type(op) for op in cell._ops[:3]] == [FactorizedReduce, FactorizedReduce, nn.Identity]
    assert isinstance(cell._ops[-1], nn.Identity)
    assert cell(torch.randn(2, 12, 8, 8), torch.randn(2, 12, 8, 8), 0.0).shape == (2, 32, 4, 4)
    normal = Cell(arch.normal, 12, 12, 8, reduction=False, reduction_prev=False)
    assert normal(torch.randn(2, 12, 8, 8), torch.randn(2, 12, 8, 8), 0.0).shape == (2, 32, 8, 8)
    network = tiny(arch)
    assert [cell.reduction for cell in network.cells] == [False, True, False, True, False]
    assert [type(cell.preprocess0) for cell in network.cells] == [ReLUConvBN, ReLUConvBN, FactorizedReduce,
                                                                 ReLUConvBN, FactorizedReduce]


def test_odd_sizes_at_a_reduction_raise():
    with pytest.raises(ValueError, match="even height and width"):
        tiny().eval()(torch.randn(1, 3, 6, 6))


def test_drop_path_zeroes_whole_samples_and_rescales_the_rest():
    torch.manual_seed(0)
    x = torch.ones(2000, 3, 2, 2)
    dropped = drop_path(x, 0.25)
    per_sample = dropped.flatten(1)
    assert per_sample.unique().tolist() == pytest.approx([0.0, 4 / 3])
    assert (per_sample.min(dim=1).values == per_sample.max(dim=1).values).all()
    assert abs((per_sample[:, 0] == 0).float().mean().item() - 0.25) < 0.04
    assert drop_path(x, 0.0) is x


def test_drop_path_schedule_and_modes():
    network = tiny(drop_path_prob=0.4)
    images = torch.randn(8, 3, 8, 8)
    assert network.drop_path_prob == network.max_drop_path_prob == 0.4
    network.set_progress(0.0)
    assert network.drop_path_prob == 0.0
    network.train()
    torch.manual_seed(1)
    first = network(images)
    torch.manual_seed(2)
    torch.testing.assert_close(network(images), first)
    network.set_progress(0.5)
    assert network.drop_path_prob == pytest.approx(0.2)
    outputs = []
    for seed in (3, 3, 4):
        torch.manual_seed(seed)
        outputs.append(network(images))
    torch.testing.assert_close(outputs[0], outputs[1])
    assert not torch.allclose(outputs[0], outputs[2])
    network.set_progress(1.0)
    network.eval()
    torch.manual_seed(5)
    evaluated = network(images)
    torch.manual_seed(6)
    torch.testing.assert_close(network(images), evaluated)


def test_backward_gives_finite_gradients_on_every_parameter():
    network = tiny(PUBLISHED_GENOTYPES["PC_DARTS"], auxiliary=True, drop_path_prob=0.2).train()
    torch.manual_seed(0)
    logits, aux_logits = network(torch.randn(4, 3, 32, 32))
    labels = torch.tensor([0, 1, 2, 3])
    loss = nn.functional.cross_entropy(logits, labels) + 0.4 * nn.functional.cross_entropy(aux_logits, labels)
    loss.backward()
    for name, parameter in network.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name


def test_builder_defaults_and_bad_options():
    network = darts_network(SPACE, DARTS_V2, 10, 3, None, None)
    assert len(network.cells) == 8 and network.stem[0].out_channels == 48 and network.auxiliary_head is None
    with pytest.raises(ValueError, match="'dropout'.*auxiliary.*drop_path_prob"):
        darts_network(SPACE, DARTS_V2, 10, 3, None, None, dropout=0.1)
    with pytest.raises(ValueError, match="cells_per_stage"):
        darts_network(SPACE, DARTS_V2, 10, 3, None, 0)
    bad = [({"channels": 0}, "channels"), ({"layers": 1}, "layers"), ({"drop_path_prob": 1.0}, "drop_path_prob"),
           ({"drop_path_prob": -0.1}, "drop_path_prob"), ({"auxiliary": 1}, "auxiliary"),
           ({"stem_multiplier": 0}, "stem_multiplier"), ({"num_classes": 0}, "num_classes")]
    for options, name in bad:
        with pytest.raises(ValueError, match=name):
            DARTSNetwork(**{"arch": DARTS_V2, "num_classes": 10, **options})
    with pytest.raises(ValueError, match="fraction"):
        tiny().set_progress(1.5)
    with pytest.raises(ValueError, match="unknown op"):
        DARTSNetwork(DARTSArch(DARTS_V2.normal, (("none", 0),) + DARTS_V2.reduce[1:]), 10)

"""Shared digits data: 8x8 one-channel images, 10 classes."""

import pytest

from bonas.evaluators import digits


@pytest.fixture(scope="session")
def digits_data():
    return digits(val_fraction=0.25, seed=0)

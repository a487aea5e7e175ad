"""What the network tests share."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Run single-threaded: these networks are tiny, and on a busy machine torch's thread pool costs 100x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

import pytest

from bonas.files import atomic_write


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "trials.csv"
    atomic_write(path, b"old\n")
    atomic_write(path, b"new\n")
    assert path.read_bytes() == b"new\n"
    assert [child.name for child in tmp_path.iterdir()] == ["trials.csv"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "summary.csv"
    atomic_write(path, b"old\n")

    def fail(*args):
        raise OSError("No space left on device")

    monkeypatch.setattr("os.fsync", fail)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(path, b"new\n")
    assert path.read_bytes() == b"old\n"
    assert [child.name for child in tmp_path.iterdir()] == ["summary.csv"]

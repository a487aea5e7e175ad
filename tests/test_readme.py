import re
from pathlib import Path

from bonas.cli import main

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    block = re.search(r"## Set up on a fresh machine\s+```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_ci_runs_exactly_the_readme_test_command():
    demo, tests = readme_commands()
    assert "pytest" in tests
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_demo_command_runs(tmp_path, monkeypatch, capsys):
    demo, _ = readme_commands()
    bonas_args = demo.split("&& bonas ", 1)[1].split()
    assert bonas_args[0] == "replay"
    monkeypatch.chdir(tmp_path)
    assert main(bonas_args) == 0
    out = Path(bonas_args[bonas_args.index("--out") + 1])
    for name in ("trials.csv", "summary.csv", "regret.png", "best_cells.png"):
        assert (tmp_path / out / name).stat().st_size > 0
    assert "regret @50" in " ".join(capsys.readouterr().out.split())


def test_top_command_prints_the_optimum(capsys):
    assert main(["top", "--dataset", "cifar10", "-k", "5"]) == 0
    assert "optimum test_accuracy: 94.3733" in capsys.readouterr().out


def test_readme_optimizer_example_runs(tmp_path, monkeypatch):
    source = (ROOT / "README.md").read_text()
    example = re.search(r"### Ask/tell optimisation.*?```python\n(.*?)```", source, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(example, namespace)
    assert len(namespace["opt"].completed) == 20
    assert (tmp_path / "runs" / "c10.jsonl").exists()
    exec(example, namespace)  # a second run resumes the journal and adds 20 more
    assert len(namespace["opt"].completed) == 40


def test_every_readme_python_block_runs(tmp_path, monkeypatch, capsys):
    """Every python block runs as written, twice in the same folder, but those marked as needing what a test machine has not (a cluster)."""
    blocks = [block for marker, block in re.findall(r"(<!-- not run[^>]*-->\n)?```python\n(.*?)```",
                                                    (ROOT / "README.md").read_text(), re.S) if not marker]
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    for block in blocks + blocks:  # twice: a block must also run where it already ran (files, journals exist)
        exec(block, {})
    assert "accuracy" in capsys.readouterr().out

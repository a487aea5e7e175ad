"""A real multi-process Ray cluster on one machine: a head and a worker node started by ``ray start``, a driver
process running ``bonas.run`` on ``RayBackend(address=...)`` with 2 trials in flight. The worker node's raylet is
killed mid-trial, then the driver itself; a new driver resumes from the journal and completes the run. Every
process the test starts is killed at the end, pass or fail."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is the 'cluster' extra; the test extra installs it")

N_TRIALS = 14
DRIVER = '''
import os, sys, time
import bonas

address, journal, markers, n_trials = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def evaluate(arch):
    # the worker process's parent is the raylet of the node it runs on: the test kills nodes by that pid
    path = os.path.join(markers, f"{os.getpid()}-{time.time_ns()}")
    with open(path + ".tmp", "w") as handle:
        handle.write(f"{os.getppid()} {time.time()}")
    os.replace(path + ".tmp", path)
    time.sleep(1.0)
    return float(bonas.NASBench201Table("cifar10").query(arch).test_accuracy)


space = bonas.NASBench201Space()
opt = (bonas.Optimizer.load(journal, space=space) if os.path.exists(journal)
       else bonas.Optimizer(space, seed=0, n_initial=4, deterministic=True, storage=journal))
backend = bonas.RayBackend(address=address, max_retries=3)
bonas.run(opt, evaluate, backend, n_trials=n_trials, max_in_flight=2, show_progress=False)
backend.shutdown()
opt.close()
'''


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_tree(roots: set[int]) -> set[int]:
    """``roots`` and all their descendants, from ``/proc``."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree = set(roots)
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= children
        grew = bool(children)
    return tree


def processes_mentioning(text: str) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if text in Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace"):
                    found.add(int(entry))
            except OSError:
                continue
    return found


def raylets(temp_dir: str) -> dict[str, int]:
    """Raylet pid by socket name (``raylet`` is the head's, ``raylet.1`` the next node's)."""
    found = {}
    for pid in processes_mentioning(temp_dir):
        try:
            arguments = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        for argument in arguments:
            if argument.startswith("--raylet_socket_name="):
                found[argument.rsplit("/", 1)[1]] = pid
    return found


def told(journal: Path) -> dict[int, dict]:
    """The trials the journal has told, complete or failed: id -> the tell event."""
    events = {}
    if journal.exists():
        for line in journal.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line the killed driver was writing
            if event.get("event") in ("tell", "fail"):
                events[event["trial"]] = event
    return events


def markers(directory: Path) -> list[tuple[int, float]]:
    """(raylet pid, start time) of every evaluation attempt so far."""
    found = []
    for path in directory.iterdir():
        if not path.name.endswith(".tmp"):
            parent, started = path.read_text().split()
            found.append((int(parent), float(started)))
    return found


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def test_a_run_survives_a_dead_worker_node_and_a_dead_driver(tmp_path):
    ray_binary = shutil.which("ray", path=os.path.dirname(sys.executable))
    assert ray_binary is not None, "the ray command line is installed with ray"
    temp_dir = tempfile.mkdtemp(prefix="bonas-ray-")  # short: Ray's socket paths must stay under 108 bytes
    address = f"127.0.0.1:{free_port()}"
    environment = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_health_check_period_ms": "1000",
                   "RAY_health_check_failure_threshold": "3", "RAY_health_check_timeout_ms": "1000"}
    journal, marker_dir = tmp_path / "cluster.jsonl", tmp_path / "markers"
    marker_dir.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    started: set[int] = set()
    try:
        common = ["--num-cpus", "1", "--disable-usage-stats"]
        subprocess.run([ray_binary, "start", "--head", "--port", address.split(":")[1], "--temp-dir", temp_dir,
                        "--include-dashboard", "false", *common], check=True, env=environment,
                       capture_output=True, timeout=120)
        subprocess.run([ray_binary, "start", "--address", address, *common], check=True, env=environment,
                       capture_output=True, timeout=120)
        nodes = raylets(temp_dir)
        assert set(nodes) == {"raylet", "raylet.1"}, nodes
        head, worker = nodes["raylet"], nodes["raylet.1"]

        log = open(tmp_path / "driver-1.log", "w")
        first = subprocess.Popen([sys.executable, str(driver), address, str(journal), str(marker_dir),
                                  str(N_TRIALS)], env=environment, stdout=log, stderr=subprocess.STDOUT)
        started.add(first.pid)
        # a trial is running on the worker node: kill that node's raylet (and with it its worker processes)
        wait_for(lambda: any(parent == worker for parent, _ in markers(marker_dir)), 180, "a trial on the worker node")
        started |= process_tree({worker})
        os.kill(worker, signal.SIGKILL)
        killed_at = time.time()
        # the run goes on without the worker node, then its driver is killed as well
        wait_for(lambda: len(told(journal)) >= N_TRIALS // 2, 240, "half the trials told after the node died")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)
        before = told(journal)
        assert first.returncode == -signal.SIGKILL and len(before) < N_TRIALS

        log = open(tmp_path / "driver-2.log", "w")
        second = subprocess.run([sys.executable, str(driver), address, str(journal), str(marker_dir),
                                 str(N_TRIALS)], env=environment, stdout=log, stderr=subprocess.STDOUT, timeout=300)
        assert second.returncode == 0, (tmp_path / "driver-2.log").read_text()[-3000:]
        after = told(journal)
        assert len(after) == N_TRIALS
        for trial, event in before.items():  # nothing told is lost or changed by the resume
            assert after[trial] == event
        after_kill = [parent for parent, at in markers(marker_dir) if at > killed_at]
        assert after_kill and all(parent == head for parent in after_kill)
        # the trial that was running on the dead node was retried on the head or told failed after its retries
        assert len(markers(marker_dir)) > N_TRIALS  # the attempt on the dead node (and the driver's) ran again
        failed = [event for event in after.values() if event["event"] == "fail"]
        assert len(failed) <= 1, failed
    finally:
        started |= process_tree(processes_mentioning(temp_dir)) | process_tree(processes_mentioning(str(driver)))
        for pid in started - {os.getpid()}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(temp_dir, ignore_errors=True)


def record_gpus(arch) -> dict:
    import ray

    start = time.time()
    time.sleep(0.4)
    return {"value": 1.0, "gpu_ids": [str(gpu) for gpu in ray.get_gpu_ids()], "start": start, "end": time.time(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


def test_num_gpus_per_trial_is_what_each_trial_gets_and_limits_how_many_run_at_once(tmp_path):
    # The CPU path of GPU placement: Ray told of one (declared) GPU gives each trial that asks for one GPU its id
    # and CUDA_VISIBLE_DEVICES, and never runs two such trials at once, though two CPUs and two slots are free.
    import ray

    import bonas

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    try:
        backend = bonas.RayBackend(num_gpus_per_trial=1)
        assert backend._task._default_options["num_gpus"] == 1
        opt = bonas.Optimizer(bonas.NASBench201Space(), seed=0, n_initial=4)
        bonas.run(opt, record_gpus, backend, n_trials=4, max_in_flight=2, show_progress=False)
        backend.shutdown()
        infos = [trial.info for trial in opt.completed]
        assert len(infos) == 4
        assert all(info["gpu_ids"] == ["0"] and info["cuda_visible_devices"] == "0" for info in infos)
        spans = sorted((info["start"], info["end"]) for info in infos)
        assert all(later[0] >= earlier[1] - 0.05 for earlier, later in zip(spans, spans[1:]))
    finally:
        ray.shutdown()

"""RayBackend on a real local Ray instance with 2 CPUs: results, a dying worker, a raising evaluation, a timeout."""

import os
import sys
import threading
import time

import numpy as np
import pytest

import bonas

ray = pytest.importorskip("ray", reason="Ray is the 'cluster' extra; the test extra installs it")

SPACE = bonas.NASBench201Space()


@pytest.fixture(scope="module")
def backend():
    # Ray workers cannot import this test module: ship its functions by value, as for a user's script.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # No timeout here: on a loaded machine restarting a dead worker can take minutes; timeouts have their own test.
    instance = bonas.RayBackend(max_retries=1)
    yield instance
    instance.shutdown()
    ray.shutdown()


def accuracy(arch) -> float:
    return bonas.NASBench201Table("cifar10").query(arch).test_accuracy


def die_once(args):
    marker, value = args
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return value


def always_die(_):
    os._exit(2)


def raise_error(_):
    raise ValueError("loss diverged")


def test_results_failures_retries_and_timeouts(backend, tmp_path):
    backend.submit(0, lambda value: value * 2, 21.0)
    backend.submit(1, die_once, (str(tmp_path / "marker"), 5.0))
    backend.submit(2, always_die, None)
    backend.submit(3, raise_error, None)
    outcomes = {}
    while backend.n_running:
        outcomes |= {outcome.trial_id: outcome for outcome in backend.wait()}
    assert outcomes[0].value == 42.0 and outcomes[0].error is None
    assert outcomes[1].value == 5.0  # the worker died once, Ray re-ran the task
    assert outcomes[2].value is None and "after up to 2 attempt(s)" in outcomes[2].error
    assert outcomes[3].value is None and "ValueError: loss diverged" in outcomes[3].error


def test_an_unpicklable_evaluate_is_refused_before_anything_is_asked(backend, tmp_path):
    lock = threading.Lock()
    opt = bonas.Optimizer(SPACE, seed=0, n_initial=4, storage=tmp_path / "ray.jsonl")
    with pytest.raises(TypeError, match=r"evaluate <function .*<lambda>.* cannot be sent .*lock"):
        bonas.run(opt, lambda arch: lock.locked(), backend=backend, n_trials=2, show_progress=False)
    assert opt.trials == [] and backend.n_running == 0


def sleep_then_write(args):
    path, seconds = args
    time.sleep(seconds)
    with open(path, "w") as handle:
        handle.write("still running")
    return seconds


def test_timeout_fails_the_trial_and_stops_its_evaluation(tmp_path):
    backend = bonas.RayBackend(timeout_s=1.0)
    marker = tmp_path / "late"
    backend.submit(0, sleep_then_write, (str(marker), 6.0))
    start = time.monotonic()
    outcome = backend.wait()[0]
    assert outcome.value is None and "timed out after 1.0 s" in outcome.error and time.monotonic() - start < 30
    time.sleep(8)
    assert not marker.exists()  # the one-call worker exited with the abandoned evaluation
    backend.shutdown()


def test_timeout_counts_from_the_start_of_each_attempt_not_from_submission(tmp_path):
    """Three trials needing the whole 2-CPU cluster run one after another; each takes 1 s of a 3 s limit, so none
    times out, although the last one finishes well over 3 s after it was submitted."""
    backend = bonas.RayBackend(timeout_s=3.0, num_cpus_per_trial=2)
    start = time.monotonic()
    for trial in range(3):
        backend.submit(trial, sleep_then_write, (str(tmp_path / str(trial)), 1.0))
    outcomes = []
    while backend.n_running:
        outcomes += backend.wait()
    assert sorted(outcome.value for outcome in outcomes) == [1.0, 1.0, 1.0]
    assert time.monotonic() - start > 3.0
    backend.shutdown()


def test_run_loop_on_ray(backend, tmp_path):
    opt = bonas.Optimizer(SPACE, seed=0, n_initial=4, storage=tmp_path / "ray.jsonl", deterministic=True)
    bonas.run(opt, accuracy, backend=backend, n_trials=8, max_in_flight=2, show_progress=False)
    assert sum(trial.state == bonas.TrialState.COMPLETE for trial in opt.trials) == 8
    assert opt.best_trial.value == max(accuracy(trial.arch) for trial in opt.trials)
    assert np.isfinite(opt.best_trial.value)


def test_replay_look_ups_as_ray_tasks(backend):
    from bonas.replay.benchmark import ReplaySpec
    from bonas.replay.runner import replay

    spec = ReplaySpec(dataset="cifar10", queries=8, batch_size=4)
    columns = ("arch", "objective", "regret")
    assert ([[row[c] for c in columns] for row in replay("random", 0, spec, backend)]
            == [[row[c] for c in columns] for row in replay("random", 0, spec)])

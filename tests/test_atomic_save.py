"""Crash-safe model files: a failed or killed save leaves the old file intact."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import qwertyclf._atomic as atomic
from qwertyclf import QwertyClassifier, load_model
from qwertyclf._atomic import stale_temporaries, temporary_name
from qwertyclf.datasets import make_qwerty


@pytest.fixture(scope="module")
def models():
    X, y = make_qwerty(30, random_state=0)
    old = QwertyClassifier(max_epochs=2, random_state=0).fit(X, y)
    new = QwertyClassifier(hidden_layer_sizes=(16,), max_epochs=2, random_state=1)
    return X, old, new.fit(X, y)


def _only_the_model(folder):
    return sorted(p.name for p in folder.iterdir()) == ["clf.safetensors"]


@pytest.mark.parametrize(
    ("where", "error"),
    [("fsync", OSError("No space left on device")), ("replace", KeyboardInterrupt())],
)
def test_a_failed_save_leaves_the_previous_file(
    models, tmp_path, monkeypatch, where, error
):
    X, old, new = models
    path = old.save(tmp_path / "clf.safetensors")
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(atomic.os, where, fail)
    with pytest.raises(type(error)):
        new.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _only_the_model(tmp_path)
    np.testing.assert_array_equal(
        load_model(path).predict_proba(X), old.predict_proba(X)
    )


def test_a_failed_write_part_way_leaves_the_previous_file(
    models, tmp_path, monkeypatch
):
    _, old, new = models
    path = old.save(tmp_path / "clf.safetensors")
    before = path.read_bytes()
    real_open = open

    class HalfWritten:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            raise OSError("No space left on device")

    monkeypatch.setattr(
        atomic, "open", lambda *a, **k: HalfWritten(real_open(*a, **k)), raising=False
    )
    with pytest.raises(OSError, match="No space"):
        new.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _only_the_model(tmp_path)


def test_leftovers_of_dead_writers_are_removed_by_the_next_save(models, tmp_path):
    _, old, _ = models
    path = tmp_path / "clf.safetensors"
    dead = temporary_name(path, pid=2**22 + 7)  # above any pid_max default
    dead.write_bytes(b"half a model")
    alive = temporary_name(path)  # ours: a save in progress, kept
    alive.write_bytes(b"in progress")
    other = temporary_name(tmp_path / "other.safetensors", pid=2**22 + 7)
    other.write_bytes(b"another file's")
    assert stale_temporaries(path) == [dead]
    old.save(path)
    assert not dead.exists() and alive.exists() and other.exists()


SAVER = """
import sys
from qwertyclf import QwertyClassifier
from qwertyclf.datasets import make_qwerty
X, y = make_qwerty(10, random_state=0)
clf = QwertyClassifier(hidden_layer_sizes=(768, 768), max_epochs=1,
                       random_state=int(sys.argv[2])).fit(X, y)
print("ready", flush=True)
while True:
    clf.save(sys.argv[1])
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_killed_save_never_damages_the_file(models, tmp_path):
    X, _, _ = models
    path = tmp_path / "clf.safetensors"
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    rng = np.random.default_rng(0)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    reference = None
    for attempt in range(8):
        child = subprocess.Popen(
            [sys.executable, str(script), str(path), str(attempt % 2)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        if not path.exists():
            continue  # killed before its first save finished
        loaded = load_model(path)  # always a whole file
        seed = loaded.random_state
        assert seed in (0, 1)
        proba = loaded.predict_proba(X)
        if reference is None:
            reference = {}
        if seed in reference:
            np.testing.assert_array_equal(proba, reference[seed])
        reference[seed] = proba
    assert reference, "no save finished in any run"
    # What killed saves left behind is removed by the next save of the path.
    loaded.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clf.safetensors", "saver.py"]


@pytest.mark.slow
def test_predictions_in_threads_while_another_saves(models, tmp_path):
    X, old, _ = models
    expected = old.predict_proba(X)
    path = tmp_path / "clf.safetensors"
    errors, saved = [], []
    stop = threading.Event()

    def save_loop():
        try:
            while not stop.is_set():
                old.save(path)
                saved.append(load_model(path).predict_proba(X))
        except Exception as exc:  # reported below
            errors.append(exc)

    def predict_loop():
        try:
            for _ in range(30):
                np.testing.assert_array_equal(old.predict_proba(X), expected)
        except Exception as exc:
            errors.append(exc)

    saver = threading.Thread(target=save_loop)
    saver.start()
    workers = [threading.Thread(target=predict_loop) for _ in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stop.set()
    saver.join()
    assert errors == []
    assert saved
    for proba in saved:
        np.testing.assert_array_equal(proba, expected)

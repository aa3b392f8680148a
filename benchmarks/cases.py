"""Benchmark cases: qwertyclf beside scikit-learn's MLPClassifier and plain skorch.

Each case returns a list of `Row`s, one per contender, timed in this process
after a warm-up. `run.py` turns them into the Markdown table.
"""

from __future__ import annotations

import statistics
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from skorch import NeuralNetClassifier
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torch.utils.data import TensorDataset as TorchTensorDataset

from qwertyclf import QwertyClassifier
from qwertyclf.datasets import make_gaussian_classes, make_qwerty
from qwertyclf.training import fast_path


@dataclass
class Row:
    """One contender's result in one case."""

    case: str
    contender: str
    seconds: list[float]
    rows: int = 0
    accuracy: float | None = None
    notes: dict = field(default_factory=dict)
    #: Per round, the reference's time over this contender's, when the
    #: contenders ran interleaved (`timed_interleaved`).
    paired: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def paired_ratio(self) -> float | None:
        """Median of the per-round speed ratios to the reference, if paired."""
        return statistics.median(self.paired) if self.paired else None

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def throughput(self) -> float:
        return self.rows / self.median if self.rows else float("nan")

    @property
    def best_throughput(self) -> float:
        return self.rows / self.best if self.rows else float("nan")


#: Variables that make OpenBLAS (numpy's, scikit-learn's) run an older kernel
#: than the CPU's own, which slows MLPClassifier and flatters every ratio.
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def without_blas_overrides(argv: list[str]) -> None:
    """Re-run this script without `BLAS_OVERRIDES` if any is set.

    For the benchmark process only: OpenBLAS reads them when it loads, so
    the script starts again (`os.execve`) with them removed.
    """
    import os
    import sys

    if any(name in os.environ for name in BLAS_OVERRIDES):
        env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
        os.execve(sys.executable, [sys.executable, *argv], env)


def blas_kernels() -> list[str]:
    """Each BLAS/OpenMP library loaded: its kernel (architecture) and threads."""
    import threadpoolctl

    return [
        f"{lib['internal_api']} {lib.get('version') or ''} "
        f"({lib.get('architecture') or 'no kernel reported'}, "
        f"{lib['num_threads']} threads, {lib['prefix']})"
        for lib in threadpoolctl.threadpool_info()
    ]


#: Whether `timed` runs each function once untimed first (off for smoke runs).
WARM_UP = True


def timed(fn, repeats: int) -> tuple[list[float], object]:
    """Run `fn` once to warm up, then `repeats` times; return times and last result."""
    result = fn() if WARM_UP else None
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def timed_interleaved(fns: dict, repeats: int) -> dict[str, list[float]]:
    """Time several functions round by round: each once per round, in turn.

    A busy moment of the machine then slows every contender of that round,
    not one contender's runs; the order rotates from round to round. Each
    function runs once untimed first (when `WARM_UP`).
    """
    if WARM_UP:
        for fn in fns.values():
            fn()
    names = list(fns)
    seconds = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            fns[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


class SeedNet(nn.Module):
    """The 2 -> 8 -> 3 network as the qwerty notebook writes it."""

    def __init__(self, n_features=2, n_hidden=8, n_classes=3):
        super().__init__()
        self.fc1 = nn.Linear(n_features, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_classes)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def seed_loop(X, y, epochs, lr=0.01, batch_size=16, seed=0):
    """The notebook's training loop: DataLoader, Adam, per-batch bookkeeping."""
    torch.manual_seed(seed)
    model = SeedNet(X.shape[1], 8, int(y.max()) + 1)
    loader = DataLoader(
        TorchTensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y)),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        batch_loss, correct = 0.0, 0
        for xb, yb in loader:
            optimizer.zero_grad()
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            batch_loss += loss.item()
            correct += torch.sum(torch.argmax(logits, dim=1) == yb).item()
    return model


def seed_loop_accuracy(model, X, y):
    model.eval()
    with torch.no_grad():
        pred = model(torch.tensor(X, dtype=torch.float32)).argmax(1).numpy()
    return float(np.mean(pred == y))


def mlp(hidden, batch_size, epochs, lr, seed=0, **kwargs):
    """MLPClassifier with the same network and schedule, no early stopping."""
    return MLPClassifier(
        hidden_layer_sizes=hidden,
        batch_size=batch_size,
        max_iter=epochs,
        learning_rate_init=lr,
        alpha=0.0,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=seed,
        **kwargs,
    )


def skorch_net(n_features, hidden, n_classes, batch_size, epochs, lr):
    """Plain skorch around the seed module (one hidden layer)."""
    return NeuralNetClassifier(
        SeedNet,
        module__n_features=n_features,
        module__n_hidden=hidden,
        module__n_classes=n_classes,
        criterion=nn.CrossEntropyLoss,  # the module returns logits
        optimizer=torch.optim.Adam,
        lr=lr,
        batch_size=batch_size,
        max_epochs=epochs,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
    )


def case_seed(repeats: int, epochs: int = 100) -> list[Row]:
    """(a) The qwerty workload: 720 training rows, batch 16, 100 epochs."""
    X, y = make_qwerty(random_state=42)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=42
    )
    X32, y64 = X_train.astype(np.float32), y_train.astype(np.int64)
    contenders = {
        "qwertyclf QwertyClassifier": lambda: QwertyClassifier(
            max_epochs=epochs, random_state=0
        ).fit(X_train, y_train),
        "scikit-learn MLPClassifier": lambda: mlp((8,), 16, epochs, 0.01).fit(
            X_train, y_train
        ),
        "skorch NeuralNetClassifier": lambda: skorch_net(2, 8, 3, 16, epochs, 0.01).fit(
            X32, y64
        ),
        "notebook DataLoader loop": lambda: seed_loop(X_train, y_train, epochs),
    }
    rows = []
    for name, fit in contenders.items():
        seconds, model = timed(fit, repeats)
        if isinstance(model, nn.Module):
            accuracy = seed_loop_accuracy(model, X_test, y_test)
        else:
            X_eval = X_test.astype(np.float32) if "skorch" in name else X_test
            accuracy = float(np.mean(model.predict(X_eval) == y_test))
        rows.append(
            Row("a", name, seconds, rows=len(X_train) * epochs, accuracy=accuracy)
        )
    return rows


def case_ablation(repeats: int, epochs: int = 100) -> list[Row]:
    """(a') What each piece of the fast path buys, on the workload of case (a).

    Each row switches off one more piece; every row trains the same network
    on the same batches and reaches the same weights (to rounding).
    """
    X, y = make_qwerty(random_state=42)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=42)
    X32, y64 = X_train.astype(np.float32), y_train.astype(np.int64)

    def qwerty(**switches):
        def fit():
            with fast_path(**switches):
                return QwertyClassifier(max_epochs=epochs, random_state=0).fit(
                    X_train, y_train
                )

        return fit

    contenders = {
        "full fast path": qwerty(),
        "no lean Adam step": qwerty(lean_step=False),
        "no hand-written gradients (autograd)": qwerty(manual_gradients=False),
        "neither (autograd + optimizer.step())": qwerty(
            manual_gradients=False, lean_step=False
        ),
        "skorch's epoch loop over the same batches": qwerty(tensor_epoch=False),
        "skorch NeuralNetClassifier": lambda: skorch_net(2, 8, 3, 16, epochs, 0.01).fit(
            X32, y64
        ),
        "scikit-learn MLPClassifier": lambda: mlp((8,), 16, epochs, 0.01).fit(
            X_train, y_train
        ),
    }
    return [
        Row("ablation", name, timed(fit, repeats)[0], rows=len(X_train) * epochs)
        for name, fit in contenders.items()
    ]


def large_data(n_samples: int, seed: int = 0):
    """(b, c) 20 features, 10 Gaussian classes."""
    X, y = make_gaussian_classes(
        n_samples, n_classes=10, n_features=20, random_state=seed
    )
    return X, y


def case_large(repeats: int, n_samples: int, epochs: int = 3) -> tuple[list[Row], dict]:
    """(b) Training throughput on a large table; (c) reuses the fitted models."""
    X, y = large_data(n_samples)
    X32 = X.astype(np.float32)
    hidden = (64, 64)
    contenders = {
        "qwertyclf QwertyClassifier": lambda: QwertyClassifier(
            hidden_layer_sizes=hidden,
            batch_size=512,
            max_epochs=epochs,
            lr=1e-3,
            random_state=0,
        ).fit(X, y),
        "scikit-learn MLPClassifier": lambda: mlp(hidden, 512, epochs, 1e-3).fit(X, y),
        "skorch NeuralNetClassifier": lambda: NeuralNetClassifier(
            nn.Sequential(
                nn.Linear(20, 64),
                nn.ReLU(),
                nn.Linear(64, 64),
                nn.ReLU(),
                nn.Linear(64, 10),
            ),
            criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            lr=1e-3,
            batch_size=512,
            max_epochs=epochs,
            iterator_train__shuffle=True,
            train_split=None,
            verbose=0,
        ).fit(X32, y),
    }
    rows, models = [], {}
    for name, fit in contenders.items():
        seconds, model = timed(fit, repeats)
        models[name] = model
        rows.append(Row("b", name, seconds, rows=len(X) * epochs))
    return rows, {"models": models, "X": X, "X32": X32, "y": y}


def case_predict(repeats: int, fitted: dict) -> list[Row]:
    """(c) `predict_proba` over the whole large table, as float32 rows.

    The contenders run interleaved, round by round; each row keeps its
    per-round speed ratios to MLPClassifier (`Row.paired`).
    """
    X32 = fitted["X32"]
    predicts = {
        name: (lambda model=model: model.predict_proba(X32))
        for name, model in fitted["models"].items()
    }
    seconds = timed_interleaved(predicts, repeats)
    reference = seconds["scikit-learn MLPClassifier"]
    return [
        Row(
            "c",
            name,
            runs,
            rows=len(X32),
            paired=[ref / own for ref, own in zip(reference, runs, strict=True)],
        )
        for name, runs in seconds.items()
    ]


def case_grid(repeats: int, folds: int = 5, epochs: int = 100, n_jobs: int = 2):
    """(d) A 12-candidate grid search with 5-fold CV on the qwerty data."""
    X, y = make_qwerty(random_state=42)
    grid = {
        "hidden_layer_sizes": [(8,), (16,), (8, 8)],
        "activation": ["relu", "tanh"],
    }
    searches = {
        "qwertyclf QwertyClassifier": GridSearchCV(
            QwertyClassifier(max_epochs=epochs, random_state=0),
            {**grid, "lr": [0.01, 0.003]},
            cv=folds,
            n_jobs=n_jobs,
        ),
        "scikit-learn MLPClassifier": GridSearchCV(
            mlp((8,), 16, epochs, 0.01),
            {**grid, "learning_rate_init": [0.01, 0.003]},
            cv=folds,
            n_jobs=n_jobs,
        ),
    }
    rows = []
    for name, search in searches.items():
        seconds, fitted = timed(lambda search=search: search.fit(X, y), repeats)
        rows.append(
            Row(
                "d",
                name,
                seconds,
                rows=len(fitted.cv_results_["params"]) * folds,
                accuracy=float(fitted.best_score_),
            )
        )
    return rows


def quiet():
    """Silence MLPClassifier's "maximum iterations reached" warnings."""
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

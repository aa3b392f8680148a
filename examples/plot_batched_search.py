"""
# Batched hyperparameter search

A grid search over a small network is many fits with the same shape of work.
[`BatchedGridSearchCV`][qwertyclf.model_selection.BatchedGridSearchCV] trains
them together as stacked networks and gives the results `GridSearchCV` gives.
This example compares the two on the qwerty data, then shows how the cost
of one model falls as more models share a run.
"""

# %%
# ## The same search, two ways
#
# Eight candidates (two widths, two activations, two learning rates) with
# 3-fold cross-validation: 24 fits. Both searches return the same scores; in
# float32 they may differ in the last digits, because the batched sums are
# taken in another order.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV

from qwertyclf import QwertyClassifier
from qwertyclf.datasets import make_qwerty
from qwertyclf.model_selection import BatchedGridSearchCV

X, y = make_qwerty(random_state=42)
grid = {
    "hidden_layer_sizes": [(8,), (16,)],
    "activation": ["relu", "tanh"],
    "lr": [0.01, 0.003],
}
estimator = QwertyClassifier(max_epochs=20, random_state=0)

seconds = {}
searches = {}
for name, search_cls in (
    ("GridSearchCV", GridSearchCV),
    ("BatchedGridSearchCV", BatchedGridSearchCV),
):
    start = time.perf_counter()
    searches[name] = search_cls(estimator, grid, cv=3).fit(X, y)
    seconds[name] = time.perf_counter() - start
    print(
        f"{name:>20}: {seconds[name]:5.2f} s, best {searches[name].best_params_}, "
        f"score {searches[name].best_score_:.3f}"
    )

# %%
# The mean test score of every candidate, side by side.
fig, ax = plt.subplots(figsize=(6, 3.5))
order = np.arange(len(searches["GridSearchCV"].cv_results_["params"]))
for offset, (name, search) in zip((-0.2, 0.2), searches.items(), strict=True):
    ax.bar(order + offset, search.cv_results_["mean_test_score"], 0.4, label=name)
ax.set_ylim(0.9, 1.0)
ax.set_xlabel("candidate")
ax.set_ylabel("mean test accuracy")
ax.legend(loc="lower right")
fig.tight_layout()

# %%
# ## Cost per model as models share a run
#
# [`QwertyEnsembleClassifier`][qwertyclf.QwertyEnsembleClassifier] trains K
# copies of the default 2-8-3 network with different seeds as one batched run. The
# time of a run grows much more slowly than K, so the time per model falls.
# (The [benchmarks](../../benchmarks.md) go up to 1,000 models and 100 epochs.)
from qwertyclf import QwertyEnsembleClassifier

X_train, y_train = X[:720], y[:720]
sizes = [1, 4, 16, 64]
per_model = []
for K in sizes:
    ensemble = QwertyEnsembleClassifier(
        QwertyClassifier(max_epochs=10), n_estimators=K, random_state=0
    )
    start = time.perf_counter()
    ensemble.fit(X_train, y_train)
    per_model.append((time.perf_counter() - start) / K)
    print(f"{K:3d} models: {per_model[-1] * 1000:6.1f} ms per model")

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.loglog(sizes, per_model, "o-")
ax.set_xlabel("models trained together (K)")
ax.set_ylabel("seconds per model")
ax.set_title("Default 2-8-3 network, 10 epochs")
fig.tight_layout()

"""
# Datasets with a known Bayes-optimal accuracy

Every dataset generator of qwertyclf draws from a distribution it knows
exactly, so it also knows the best any classifier can do on its data: the
Bayes-optimal classifier, which predicts the class with the largest true
posterior, and its accuracy. That turns "is 93% good?" into a question with an
answer. The generators are in
[`qwertyclf.datasets`](../../reference/datasets.md).
"""

# %%
# ## The generators
#
# With `return_X_y=False` each returns a bunch with the data, the true
# parameters, `bayes_estimator` and `bayes_accuracy`.
import matplotlib.pyplot as plt

from qwertyclf.datasets import (
    make_gaussian_classes,
    make_qwerties,
    make_qwerty,
    make_qwerty_doughnuts,
)
from qwertyclf.plotting import DatasetDisplay

datasets = {
    "make_qwerty": make_qwerty(random_state=42, return_X_y=False),
    "make_qwerties": make_qwerties(n_classes=3, random_state=0, return_X_y=False),
    "make_gaussian_classes": make_gaussian_classes(
        600,
        means=[[0, 0], [2.5, 0]],
        covariances=[[[1.0, 0.0], [0.0, 1.0]], [[0.3, 0.0], [0.0, 3.0]]],
        random_state=0,
        return_X_y=False,
    ),
    "make_qwerty_doughnuts": make_qwerty_doughnuts(random_state=0, return_X_y=False),
}
fig, axes = plt.subplots(1, 4, figsize=(16, 4), layout="constrained")
for ax, (name, data) in zip(axes, datasets.items(), strict=True):
    DatasetDisplay.from_data(
        data.data, data.target, ax=ax, title=f"{name}\nBayes {data.bayes_accuracy:.1%}"
    )
plt.show()
# mkdocs_gallery_thumbnail_number = 2

# %%
# The accuracies come from closed forms, exact one-dimensional integrals or
# numerical quadrature, and report how they were obtained:
for name, data in datasets.items():
    acc = data.bayes_accuracy
    print(f"{name:>22}: {acc:.4f} ({acc.method}), per class {acc.per_class.round(3)}")

# %%
# [`bayes_accuracy`][qwertyclf.datasets.bayes_accuracy] and
# [`ring_bayes_accuracy`][qwertyclf.datasets.ring_bayes_accuracy] compute it
# for any parameters, without drawing data:
from qwertyclf.datasets import bayes_accuracy, ring_bayes_accuracy

for spread in (0.5, 1.0, 2.0):
    gauss = bayes_accuracy([[2, 1], [-2, 1], [0, -3]], covariances=spread**2)
    rings = ring_bayes_accuracy([1.0, 3.0], noise=0.5 * spread)
    print(f"noise x{spread}: qwerty blobs {gauss:.3f}, doughnuts {rings:.3f}")

# %%
# ## A network against the optimum
#
# The curved boundaries are where a network has to work. On the Gaussian
# classes with different covariances the optimal boundary is a conic; on the
# doughnuts it is a circle. The black lines are the
# [`GaussianBayesClassifier`][qwertyclf.datasets.GaussianBayesClassifier] and
# [`RingBayesClassifier`][qwertyclf.datasets.RingBayesClassifier] boundaries.
from sklearn.model_selection import train_test_split

from qwertyclf import QwertyClassifier
from qwertyclf.plotting import DecisionRegionDisplay

fig, axes = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
for ax, name in zip(
    axes, ["make_gaussian_classes", "make_qwerty_doughnuts"], strict=True
):
    data = datasets[name]
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, stratify=data.target, random_state=0
    )
    clf = QwertyClassifier(hidden_layer_sizes=(16, 16), max_epochs=60, random_state=0)
    clf.fit(X_train, y_train)
    network = clf.score(X_test, y_test)
    bayes = data.bayes_estimator.score(X_test, y_test)
    print(
        f"{name}: network {network:.3f}, Bayes classifier {bayes:.3f} on the same "
        f"test set, Bayes-optimal {data.bayes_accuracy:.3f} in expectation"
    )
    DecisionRegionDisplay.from_estimator(
        clf,
        X_test,
        y_test,
        bayes_estimator=data.bayes_estimator,
        ax=ax,
        title=f"{name}: network {network:.1%}, optimum {data.bayes_accuracy:.1%}",
    )
plt.show()

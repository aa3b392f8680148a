"""
# From the notebook to qwertyclf

qwertyclf grew out of a teaching notebook that trains a small multi-class
network in plain PyTorch ([where "qwerty" comes from](../../about-qwerty.md)): it
draws three Gaussian blobs, the "qwerty" data, splits them, wraps them in
`DataLoader`s, writes a `QwertyNet` module and a training loop, and then inspects
the result — loss and accuracy curves, predictions against the truth, accuracy
per class and the misclassified points. It ends with a list of extensions to
try.

This page walks the same path with qwertyclf. Every step is one or two library
calls, and every figure below was drawn by this code when the documentation was
built.
"""

# %%
# ## 1. The qwerty data
#
# [`make_qwerty`][qwertyclf.datasets.make_qwerty] draws the notebook's data: 300
# points per class around the means (2, 1), (-2, 1) and (0, -3), unit
# covariance. With `random_state=42` the points are identical to the notebook's
# `np.random.seed(42)` draws, but the global NumPy generator is left alone.
#
# With `return_X_y=False` it also returns what it knows about the distribution,
# including the Bayes-optimal classifier and its accuracy: the best any model
# can do on this data.
import matplotlib.pyplot as plt
import numpy as np

from qwertyclf.datasets import make_qwerty
from qwertyclf.plotting import DatasetDisplay

data = make_qwerty(n_per_class=300, random_state=42, return_X_y=False)
X, y = data.data, data.target
print("X shape:", X.shape, "| y shape:", y.shape)
print(f"Bayes-optimal accuracy: {data.bayes_accuracy:.2%}")

DatasetDisplay.from_data(X, y, title="Qwerty dataset (3 classes)")
plt.show()
# mkdocs_gallery_thumbnail_number = 6

# %%
# ## 2. Train/test split — and no DataLoader
#
# The split is scikit-learn's, as in the notebook. There is no tensor conversion
# and no `DataLoader` to write: the classifier takes NumPy arrays (or pandas
# frames), converts them once, and draws shuffled mini-batches of
# `batch_size=16` itself. Unlike the notebook's `drop_last=True`, the last,
# smaller batch of each epoch is kept, so every sample is used.
from sklearn.model_selection import train_test_split

X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, shuffle=True, random_state=42
)
print("Train size:", X_train.shape, "| Test size:", X_test.shape)

# %%
# ## 3. The model
#
# The notebook's network is `Linear(2, 8) -> ReLU -> Linear(8, 3)`, with raw
# logits out because `CrossEntropyLoss` applies the log-softmax.
# [`QwertyNet`][qwertyclf.QwertyNet] builds exactly that by default, and any
# depth, width, activation, batch normalisation or dropout on request.
from qwertyclf import QwertyClassifier, QwertyNet

print(QwertyNet(n_features=2, n_classes=3))

# %%
# [`QwertyClassifier`][qwertyclf.QwertyClassifier] is the scikit-learn estimator
# around it. Its defaults are the notebook's settings: one hidden layer of 8
# ReLU units, Adam with learning rate 0.01, batches of 16, 100 epochs, and the
# cross-entropy loss. The input and output sizes come from the data in `fit`.
clf = QwertyClassifier(random_state=0)
print(clf)

# %%
# ## 4. Training, with the test set watched every epoch
#
# The notebook's `train_model` loop records train and test loss and accuracy
# after each epoch. Passing `validation_data` to `fit` does the same: the
# held-out set is scored after every epoch, without gradients, and the numbers
# land in `history_`.
clf.fit(X_train, y_train, validation_data=(X_test, y_test))

last = clf.history_[-1]
print(
    f"epoch {last['epoch']}: train loss {last['train_loss']:.3f}, "
    f"train acc {last['train_acc']:.3f}, test loss {last['valid_loss']:.3f}, "
    f"test acc {last['valid_acc']:.3f}"
)
print("The trained network:", clf.net_.module_, sep="\n")

# %%
# [`TrainingCurvesDisplay`][qwertyclf.plotting.TrainingCurvesDisplay] draws the
# notebook's two panels, loss and accuracy per epoch; the dashed line is the
# Bayes-optimal accuracy.
from qwertyclf.plotting import TrainingCurvesDisplay

TrainingCurvesDisplay.from_estimator(clf, bayes_accuracy=data.bayes_accuracy)
plt.show()

# %%
# ## 5. Predictions against the truth
#
# As in the notebook, we now look at all 900 points, train and test together.
# `predict` returns class labels (not tensor indices), so they compare directly
# with `y`. [`PredictionDisplay`][qwertyclf.plotting.PredictionDisplay] plots
# predicted classes as circles and true classes as squares, offset by 0.2, and
# marks the mistakes.
from qwertyclf.plotting import PredictionDisplay

X_all = np.concatenate([X_train, X_test])
y_all = np.concatenate([y_train, y_test])
y_pred = clf.predict(X_all)

PredictionDisplay.from_predictions(y_all, y_pred, title="Predicted vs. true (all)")
plt.show()

# %%
# ## 6. Accuracy per class
#
# [`per_class_accuracy`][qwertyclf.metrics.per_class_accuracy] gives the
# notebook's overall and per-class numbers in one call, and
# [`format_accuracy_table`][qwertyclf.metrics.format_accuracy_table] prints them
# next to the Bayes-optimal accuracy of each class.
from qwertyclf.metrics import format_accuracy_table, per_class_accuracy
from qwertyclf.plotting import ClassAccuracyDisplay

accuracy = per_class_accuracy(y_all, y_pred)
print(format_accuracy_table(accuracy, reference=data.bayes_accuracy))

ClassAccuracyDisplay.from_predictions(
    y_all, y_pred, reference=data.bayes_accuracy.per_class
)
plt.show()

# %%
# ## 7. Where the mistakes are
#
# [`MisclassificationDisplay`][qwertyclf.plotting.MisclassificationDisplay]
# circles the misclassified points in the plane. They sit where the blobs
# overlap, which is where even the best possible classifier errs.
from qwertyclf.plotting import MisclassificationDisplay

MisclassificationDisplay.from_predictions(X_all, y_all, y_pred)
plt.show()

# %%
# ## 8. Decision regions against the Bayes boundary
#
# One step beyond the notebook: because the data come from known Gaussians, the
# best possible boundary is known too.
# [`GaussianBayesClassifier`][qwertyclf.datasets.GaussianBayesClassifier]
# (returned as `data.bayes_estimator`) predicts the class with the largest true
# posterior, and
# [`DecisionRegionDisplay`][qwertyclf.plotting.DecisionRegionDisplay] draws its
# boundary, in black, over the regions the network learned.
from qwertyclf.datasets import GaussianBayesClassifier, bayes_accuracy
from qwertyclf.plotting import DecisionRegionDisplay

bayes = GaussianBayesClassifier(means=data.means, covariances=data.covariances)
bayes.fit(X_train, y_train)  # nothing is learned; this only records the classes
print(f"network on the test set: {clf.score(X_test, y_test):.3f}")
print(f"Bayes classifier on the test set: {bayes.score(X_test, y_test):.3f}")
print(f"Bayes-optimal accuracy (expected): {bayes_accuracy(data.means):.3f}")

DecisionRegionDisplay.from_estimator(
    clf, X_test, y_test, bayes_estimator=bayes, title="Decision regions (test)"
)
plt.show()

# %%
# On a test set of 180 points the network and the Bayes classifier can differ
# by a point or two either way; the Bayes-optimal accuracy is what both would
# reach on average over many test sets.
#
# ## 9. The notebook's extensions, as a grid search
#
# The notebook suggests trying a deeper or wider network, `LeakyReLU` or
# `ReLU6`, and batch normalisation. Each is one hyperparameter, so the whole
# list is a small
# [`GridSearchCV`](https://scikit-learn.org/stable/modules/generated/sklearn.model_selection.GridSearchCV.html):
# every
# variant is trained and scored on three folds of the training set. A list of
# grids changes one thing at a time from the notebook's network; 30 epochs keep
# the search quick.
import pandas as pd
from sklearn.model_selection import GridSearchCV

variants = [
    {"hidden_layer_sizes": [(8,), (8, 8), (32,)]},  # baseline, deeper, wider
    {"activation": ["leaky_relu", "relu6"]},
    {"batch_norm": [True]},
]
search = GridSearchCV(
    QwertyClassifier(max_epochs=30, random_state=0), variants, cv=3, n_jobs=1
)
search.fit(X_train, y_train)

results = pd.DataFrame(search.cv_results_)
results["variant"] = [
    ", ".join(f"{k}={v}" for k, v in params.items()) for params in results["params"]
]
print(
    results[["variant", "mean_test_score", "std_test_score", "mean_fit_time"]]
    .sort_values("mean_test_score", ascending=False)
    .to_string(index=False, float_format="{:.3f}".format)
)
print(f"test accuracy of the best variant: {search.score(X_test, y_test):.3f}")

# %%
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
ax.barh(
    results["variant"],
    results["mean_test_score"],
    xerr=results["std_test_score"],
    color="tab:blue",
    alpha=0.7,
)
ax.axvline(data.bayes_accuracy, color="k", linestyle="--", label="Bayes-optimal")
ax.set_xlim(0.9, 1.0)
ax.set_xlabel("mean cross-validated accuracy")
ax.set_title("The notebook's extensions")
ax.legend(loc="lower left", framealpha=1)
plt.show()

# %%
# On data this simple every variant lands within noise of the Bayes-optimal
# accuracy: the notebook's small network is already enough. The extensions pay
# off on harder data — see the
# [doughnuts example](plot_bayes_datasets.md), where a straight-line boundary
# cannot work.
#
# ## What the notebook's code became
#
# | In the notebook | With qwertyclf |
# |---|---|
# | `np.random.seed(42)` + `multivariate_normal` loop | `make_qwerty(random_state=42)` |
# | tensors, `TensorDataset`, `DataLoader` | nothing: `fit` takes arrays |
# | `class QwertyNet(nn.Module)` | `QwertyNet`, built by `QwertyClassifier` |
# | `train_model` loop, Adam, cross-entropy | `clf.fit(X, y, validation_data=...)` |
# | results dict of four lists | `clf.history_` |
# | `argmax` of logits under `no_grad` | `clf.predict(X)` / `clf.predict_proba(X)` |
# | loss/accuracy subplots | `TrainingCurvesDisplay` |
# | predicted vs. true plot | `PredictionDisplay` |
# | per-class accuracy loop | `per_class_accuracy` / `ClassAccuracyDisplay` |
# | misclassified scatter | `MisclassificationDisplay` |
# | "try other architectures" | `GridSearchCV` over `QwertyClassifier` parameters |
#
# All of these panels at once:
# [`plot_diagnostics`][qwertyclf.plotting.plot_diagnostics], shown in the
# [diagnostics report example](plot_diagnostics_report.md).

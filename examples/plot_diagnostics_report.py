"""
# A diagnostics report against the Bayes optimum

One call draws every diagnostic of a fitted classifier in one figure: training
curves, accuracy per class, decision regions, misclassified points, the
confusion matrix and predicted vs. true class, the analysis of the
[original notebook](../../about-qwerty.md). Given the Bayes-optimal classifier of
the data, [`plot_diagnostics`][qwertyclf.plotting.plot_diagnostics] also shows
how far the model is from the best possible one.
"""

# %%
# ## Data with a curved optimal boundary
#
# [`make_gaussian_classes`][qwertyclf.datasets.make_gaussian_classes] draws
# classes with their own covariance, so the Bayes-optimal boundaries are
# curves, not lines. Its bunch carries that classifier (`bayes_estimator`) and
# its accuracy (`bayes_accuracy`, with the accuracy of each class).
from sklearn.model_selection import train_test_split

from qwertyclf.datasets import make_gaussian_classes

data = make_gaussian_classes(
    1200,
    means=[[0, 0], [3, 0], [1.5, 2.5], [1.5, -2.5]],
    covariances=[
        [[0.5, 0.0], [0.0, 0.5]],
        [[2.0, 0.0], [0.0, 0.4]],
        [[0.4, 0.0], [0.0, 1.5]],
        [[1.0, 0.6], [0.6, 1.0]],
    ],
    random_state=0,
    return_X_y=False,
)
print(data.DESCR)
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.3, stratify=data.target, random_state=0
)

# %%
# ## Train and report
#
# A network with two hidden layers, watching the test set every epoch.
from qwertyclf import QwertyClassifier
from qwertyclf.plotting import plot_diagnostics

clf = QwertyClassifier(hidden_layer_sizes=(16, 16), max_epochs=60, random_state=0)
clf.fit(X_train, y_train, validation_data=(X_test, y_test))

fig, displays = plot_diagnostics(
    clf,
    X_train,
    y_train,
    X_test,
    y_test,
    bayes_estimator=data.bayes_estimator,
    bayes_accuracy=data.bayes_accuracy,
    grid_resolution=150,
)

# %%
# The black line over the decision regions is the Bayes-optimal boundary, the
# dashed line on the accuracy curves its accuracy, and the black ticks on the
# bars the Bayes-optimal accuracy of each class. The network's regions follow
# the curved boundary where there are data to learn from. (Click the figure to
# see it at full size.)
#
# ## The same numbers as text
#
# [`per_class_accuracy`][qwertyclf.metrics.per_class_accuracy] and
# [`format_accuracy_table`][qwertyclf.metrics.format_accuracy_table] give the
# table the `qwertyclf demo` command prints.
from qwertyclf.metrics import format_accuracy_table, per_class_accuracy

accuracy = per_class_accuracy(y_test, clf.predict(X_test))
print(format_accuracy_table(accuracy, reference=data.bayes_accuracy))

# %%
# ## Keeping the report
#
# The figure is an ordinary matplotlib figure; save it as PNG, SVG or PDF. The
# displays keep their data, for example the test points the model got wrong:
import tempfile
from pathlib import Path

path = Path(tempfile.mkdtemp()) / "diagnostics.png"
fig.savefig(path, dpi=80)
print(f"saved {path.name}: {path.stat().st_size / 1024:.0f} KiB")

wrong = displays["misclassification"].misclassified
print(f"{wrong.sum()} of {len(wrong)} test points misclassified")

"""
# Quickstart

Train a `QwertyClassifier` on the qwerty data, score it on held-out data and
draw every diagnostic in one figure. This is the quickstart of the home page.
"""

# %%
# The ten lines: data, split, fit (watching the test set every epoch), score
# and the diagnostic figure.
from sklearn.model_selection import train_test_split

from qwertyclf import QwertyClassifier
from qwertyclf.datasets import make_qwerty
from qwertyclf.plotting import plot_diagnostics

X, y = make_qwerty(random_state=42)  # 3 Gaussian classes in 2-D
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, random_state=42
)

clf = QwertyClassifier(random_state=0)  # 2 -> 8 -> 3 ReLU net, Adam, batches of 16
clf.fit(X_train, y_train, validation_data=(X_test, y_test))
print(f"test accuracy: {clf.score(X_test, y_test):.3f}")
fig, displays = plot_diagnostics(clf, X_train, y_train, X_test, y_test)

# %%
# `displays` holds the individual panels, each a Display object with its data
# and its matplotlib artists, for example the per-class accuracy:
print(displays["class_accuracy"].accuracy)

# %%
# Any single panel can also be drawn on its own. The loss and accuracy curves
# come from the training history:
import matplotlib.pyplot as plt

from qwertyclf.plotting import TrainingCurvesDisplay

TrainingCurvesDisplay.from_estimator(clf)
plt.show()

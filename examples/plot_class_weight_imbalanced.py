"""
# Imbalanced classes and class weights

When one class is rare, a classifier that minimises the average loss can afford
to get it wrong: it is a small part of the average. `class_weight="balanced"`
weighs each class's samples by the inverse of its frequency, so every class
counts the same in the loss. This trades some overall accuracy for accuracy on
the rare classes.
"""

# %%
# ## Imbalanced data
#
# [`make_gaussian_classes`][qwertyclf.datasets.make_gaussian_classes] takes one
# sample count per class: 600, 150 and 40 here.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from qwertyclf.datasets import make_gaussian_classes

X, y = make_gaussian_classes(
    [600, 150, 40], means=[[0, 0], [2, 1], [0.5, 2]], random_state=0
)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.4, stratify=y, random_state=0
)
print("training samples per class:", np.bincount(y_train))

# %%
# ## Two classifiers
#
# The same network, once with every sample weighted the same and once with
# `class_weight="balanced"`. A dict such as `{0: 1, 1: 2, 2: 10}` sets the
# weights by hand, and `fit(..., sample_weight=...)` weighs single samples.
from sklearn.metrics import balanced_accuracy_score

from qwertyclf import QwertyClassifier

models = {
    "class_weight=None": QwertyClassifier(max_epochs=60, random_state=0),
    'class_weight="balanced"': QwertyClassifier(
        max_epochs=60, class_weight="balanced", random_state=0
    ),
}
for name, model in models.items():
    model.fit(X_train, y_train)
    y_pred = model.predict(X_test)
    print(
        f"{name:>24}: accuracy {model.score(X_test, y_test):.3f}, "
        f"balanced accuracy {balanced_accuracy_score(y_test, y_pred):.3f}"
    )

# %%
# ## Per class, and where the boundaries move
#
# Weighting the rare class enlarges its region: more of its points are found,
# at the cost of some points of the common classes.
from qwertyclf.plotting import ClassAccuracyDisplay, DecisionRegionDisplay

fig, axes = plt.subplots(2, 2, figsize=(11, 9), layout="constrained")
for column, (name, model) in enumerate(models.items()):
    DecisionRegionDisplay.from_estimator(
        model, X_test, y_test, ax=axes[0, column], title=name
    )
    ClassAccuracyDisplay.from_estimator(
        model, X_test, y_test, ax=axes[1, column], title=f"Accuracy per class, {name}"
    )
plt.show()

# %%
# !!! note "Which one is right?"
#     Neither: they answer different questions. Without weights the model
#     aims at the best overall accuracy, which is what the class frequencies
#     reward. With balanced weights it aims at the best *balanced* accuracy,
#     the mean of the per-class accuracies, as if all classes were equally
#     common. Pick the weights that match the cost of each kind of mistake.

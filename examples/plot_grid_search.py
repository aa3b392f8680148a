"""
# Hyperparameter search with GridSearchCV

`QwertyClassifier` is a scikit-learn estimator, so scikit-learn's model
selection tools work on it unchanged. Here a
[`GridSearchCV`](https://scikit-learn.org/stable/modules/generated/sklearn.model_selection.GridSearchCV.html)
over a `Pipeline` chooses the network size and learning rate for the qwerty
doughnuts: two noisy rings that no straight boundary can separate.
"""

# %%
# ## The data
#
# [`make_qwerty_doughnuts`][qwertyclf.datasets.make_qwerty_doughnuts] draws the
# rings; its bunch also carries the Bayes-optimal accuracy, the ceiling for any
# model.
import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split

from qwertyclf.datasets import make_qwerty_doughnuts

data = make_qwerty_doughnuts(n_per_class=300, random_state=0, return_X_y=False)
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.25, stratify=data.target, random_state=0
)
print(f"Bayes-optimal accuracy: {data.bayes_accuracy:.3f}")
# mkdocs_gallery_thumbnail_number = 2

# %%
# ## The search
#
# The pipeline scales the features, then trains the network. Parameters of a
# pipeline step are addressed as `<step>__<parameter>`. Each of the 3 x 3
# candidates is trained on two thirds of the training set and scored on the
# rest, three times; the best one is then refitted on the whole training set.
#
# `random_state` fixes the weight initialisation and the batch order of every
# fit, so the scores do not depend on the order in which the fits run, nor on
# `n_jobs`.
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from qwertyclf import QwertyClassifier

pipe = make_pipeline(StandardScaler(), QwertyClassifier(max_epochs=40, random_state=0))
param_grid = {
    "qwertyclassifier__hidden_layer_sizes": [(2,), (8,), (16, 16)],
    "qwertyclassifier__lr": [0.001, 0.01, 0.05],
}
search = GridSearchCV(pipe, param_grid, cv=3, n_jobs=1)
search.fit(X_train, y_train)

print("best parameters:", search.best_params_)
print(f"best cross-validated accuracy: {search.best_score_:.3f}")
print(f"test accuracy of the refitted best model: {search.score(X_test, y_test):.3f}")

# %%
# ## All the scores
#
# `cv_results_` holds every candidate's scores. As a heat map: two hidden units
# are too few to draw a ring, whatever the learning rate; with eight or more,
# every learning rate comes close to the Bayes-optimal accuracy and the
# differences between them are within the noise of three folds.
import numpy as np

sizes = param_grid["qwertyclassifier__hidden_layer_sizes"]
rates = param_grid["qwertyclassifier__lr"]
scores = np.empty((len(sizes), len(rates)))
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
):
    i = sizes.index(params["qwertyclassifier__hidden_layer_sizes"])
    j = rates.index(params["qwertyclassifier__lr"])
    scores[i, j] = score

fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
image = ax.imshow(scores, cmap="viridis", vmin=0.5, vmax=1.0)
for (i, j), score in np.ndenumerate(scores):
    # viridis runs from dark to light: dark text on the light (high) cells
    color = "black" if image.norm(score) > 0.5 else "white"
    ax.text(j, i, f"{score:.3f}", ha="center", va="center", color=color)
ax.set_xticks(range(len(rates)), [str(r) for r in rates])
ax.set_yticks(range(len(sizes)), [str(s) for s in sizes])
ax.set_xlabel("lr")
ax.set_ylabel("hidden_layer_sizes")
ax.set_title("Mean cross-validated accuracy")
fig.colorbar(image, ax=ax)
plt.show()

# %%
# ## The chosen model
#
# `best_estimator_` is the refitted pipeline. Its decision regions, with the
# Bayes-optimal boundary drawn in black on top: a circle between the two
# rings, where a point is equally likely to come from either.
from qwertyclf.plotting import DecisionRegionDisplay

DecisionRegionDisplay.from_estimator(
    search.best_estimator_,
    X_test,
    y_test,
    bayes_estimator=data.bayes_estimator,
    title="Best pipeline on the test set",
)
plt.show()

# %%
# !!! tip "Running the search in parallel"
#     `n_jobs=-1` trains candidates in parallel processes, and the same code
#     runs on a Dask cluster inside `joblib.parallel_backend("dask")`: see
#     [Distributed search with Dask](../../how-to/dask.md).

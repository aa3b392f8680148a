"""
# Pandas, string labels and pipelines

Real tables have named columns on different scales and labels that are words,
not integers. `QwertyClassifier` takes a pandas `DataFrame`, keeps its column
names, accepts labels of any type and returns them from `predict`; inside a
`Pipeline` it gets its features scaled first.
"""

# %%
# ## A table of fruit
#
# We dress the qwerty data up as a table: two measurements on very different
# scales, and the fruit as a string label.
import numpy as np
import pandas as pd

from qwertyclf.datasets import make_qwerty

X, y = make_qwerty(n_per_class=200, shuffle=True, random_state=0)
fruit = pd.DataFrame(
    {
        "weight_g": 150 + 25 * X[:, 0],
        "sugar_pct": 14 + 2 * X[:, 1],
        "kind": np.array(["apple", "banana", "cherry"])[y],
    }
)
print(fruit.head())
print(fruit.describe().round(1))

# %%
# ## Scaling matters
#
# The network starts from small random weights, so inputs in the hundreds make
# its first steps huge and its training erratic. A `StandardScaler` in front
# fixes that, and inside a `Pipeline` it is fitted on the training folds only.
# Cross-validation compares the two:
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from qwertyclf import QwertyClassifier

features, target = fruit[["weight_g", "sugar_pct"]], fruit["kind"]
raw = QwertyClassifier(max_epochs=30, random_state=0)
scaled = make_pipeline(
    StandardScaler(), QwertyClassifier(max_epochs=30, random_state=0)
)
for name, model in [("raw features", raw), ("scaled features", scaled)]:
    scores = cross_val_score(model, features, target, cv=3)
    print(f"{name:>16}: {scores.mean():.3f} ± {scores.std():.3f}")

# %%
# ## Labels in, labels out
#
# The classes are the sorted string labels; `predict` returns them and the
# columns of `predict_proba` follow `classes_`. The column names are kept in
# `feature_names_in_`, and a frame with its columns in another order is
# rejected rather than silently misread.
from sklearn.model_selection import train_test_split

X_train, X_test, y_train, y_test = train_test_split(
    features, target, test_size=0.25, stratify=target, random_state=0
)
scaled.fit(X_train, y_train)
clf = scaled[-1]
print("classes_:", clf.classes_)
print("pipeline feature_names_in_:", scaled.feature_names_in_)
print("predictions:", scaled.predict(X_test.head(4)))
print(
    pd.DataFrame(
        scaled.predict_proba(X_test.head(4)),
        columns=clf.classes_,
        index=X_test.index[:4],
    ).round(3)
)

# %%
# The diagnostics take string labels too, and name the axes after the columns.
import matplotlib.pyplot as plt

from qwertyclf.plotting import ClassAccuracyDisplay, DecisionRegionDisplay

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
DecisionRegionDisplay.from_estimator(scaled, X_test, y_test, ax=axes[0])
ClassAccuracyDisplay.from_estimator(scaled, X_test, y_test, ax=axes[1])
plt.show()

# %%
# ## Mixed column types
#
# A `ColumnTransformer` handles tables with categorical columns: here a made-up
# `origin` column is one-hot encoded while the measurements are scaled. The
# classifier only ever sees the numeric matrix the transformer produces.
from sklearn.compose import make_column_transformer
from sklearn.preprocessing import OneHotEncoder

rng = np.random.default_rng(0)
table = features.assign(origin=rng.choice(["north", "south"], size=len(features)))
preprocess = make_column_transformer(
    (StandardScaler(), ["weight_g", "sugar_pct"]),
    (OneHotEncoder(), ["origin"]),
)
model = make_pipeline(preprocess, QwertyClassifier(max_epochs=30, random_state=0))
scores = cross_val_score(model, table, target, cv=3)
print(f"with a categorical column: {scores.mean():.3f} ± {scores.std():.3f}")

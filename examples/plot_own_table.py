"""
# A real table, as it comes

The Palmer penguins: 344 birds, their species, the island they were seen on,
their sex (unknown for 11 of them), four body measurements (2 missing each)
and the year. Strings, gaps and columns in millimetres beside grams: the
classifiers take the table as it is, with no imputer, encoder or scaler in
front.
"""

# %%
# ## The table
from palmerpenguins import load_penguins

penguins = load_penguins()
print(penguins.dtypes)
print(penguins.isna().sum())

# %%
# ## Fitted on the raw table
#
# `QwertyClassifierCV` tunes itself by cross-fitting. String columns are
# categories because of their dtype; missing numbers are replaced by the
# column's median and flagged by an indicator input; the measurements are
# scaled robustly inside the model.
from sklearn.model_selection import train_test_split

from qwertyclf import QwertyClassifierCV

X = penguins.drop(columns="species")
y = penguins["species"]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
model = QwertyClassifierCV(random_state=0).fit(X_train, y_train)
print(f"test accuracy: {model.score(X_test, y_test):.3f}")

# %%
# ## What the network sees
#
# `encoder_` records how each column became inputs: which columns are
# categorical, their categories (and whether "missing" has an input of its
# own), and which numeric columns got a missing indicator.
encoder = model.encoder_
names = model.feature_names_in_
for j, categories, missing in zip(
    encoder.categorical, encoder.categories, encoder.missing_slot, strict=True
):
    print(f"{names[j]}: {categories.tolist()}" + (" + missing" if missing else ""))
print("missing indicators:", [names[encoder.numeric[i]] for i in encoder.indicated])
print("network inputs:", encoder.n_outputs, "from", model.n_features_in_, "columns")

# %%
# A category the model never saw, or a gap where training had none, is not an
# error:
unusual = X_test.head(2).copy()
unusual["island"] = ["Anvers", None]
print(model.predict(unusual))

# %%
# ## Per-class accuracy
import matplotlib.pyplot as plt

from qwertyclf.plotting import ClassAccuracyDisplay

ClassAccuracyDisplay.from_estimator(model, X_test, y_test)
plt.show()

"""
# Early stopping and skorch callbacks

A large network trained for many epochs on a small, noisy dataset learns the
noise: the training loss keeps falling while the loss on unseen data turns
back up. Early stopping watches a validation split and keeps the weights of the
best epoch. Because training runs inside skorch, any skorch callback —
learning-rate schedules, extra scores, checkpoints — plugs in through
`callbacks=`.
"""

# %%
# ## A dataset small enough to overfit
#
# Three overlapping qwerties, 100 points each, half of them kept aside as a
# test set.
import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split

from qwertyclf.datasets import make_qwerties

X, y = make_qwerties(n_per_class=100, n_classes=3, blur=1.5, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)

# %%
# ## Without early stopping
#
# Two hidden layers of 64 units for 200 epochs. `validation_fraction=0.2` holds
# out a stratified fifth of the training set and scores it after every epoch,
# so we can watch the validation loss; it does not change how training works.
from qwertyclf import QwertyClassifier
from qwertyclf.plotting import TrainingCurvesDisplay

params = dict(hidden_layer_sizes=(64, 64), max_epochs=200, random_state=0)
overfit = QwertyClassifier(validation_fraction=0.2, **params).fit(X_train, y_train)
print(
    f"epochs trained: {overfit.n_iter_}, lowest validation loss at epoch "
    f"{overfit.best_epoch_}"
)
print(f"test accuracy: {overfit.score(X_test, y_test):.3f}")

# %%
# ## With early stopping
#
# `early_stopping=True` stops once the validation loss has not improved by
# `tol` for `n_iter_no_change` epochs, and restores the weights of the best
# epoch (`best_epoch_`). Without `validation_fraction` or `validation_data` it
# holds out 10% of the training set.
stopped = QwertyClassifier(
    early_stopping=True, validation_fraction=0.2, n_iter_no_change=20, **params
).fit(X_train, y_train)
print(
    f"epochs trained: {stopped.n_iter_}, weights kept from epoch {stopped.best_epoch_}"
)
print(f"test accuracy: {stopped.score(X_test, y_test):.3f}")

# %%
# The curves of the long run, with the epoch early stopping kept marked: after
# it the validation loss only grows.
display = TrainingCurvesDisplay.from_estimator(overfit)
for ax in display.axes_:
    ax.axvline(stopped.best_epoch_, color="k", linestyle=":", label="kept epoch")
display.axes_[0].legend()
plt.show()

# %%
# ## Any skorch callback
#
# `callbacks=` takes skorch callbacks, or `(name, callback)` pairs; each fit
# works on fresh copies, so the estimator can be cloned and grid-searched. Here:
#
# - `LRScheduler` divides the learning rate by ten at epoch 30;
# - `EpochScoring` adds the macro-averaged F1 score on the validation split to
#   the history, as `valid_f1`;
# - `Checkpoint` saves the parameters whenever the validation loss reaches a
#   new low.
import tempfile

from skorch.callbacks import Checkpoint, EpochScoring, LRScheduler

checkpoint_dir = tempfile.mkdtemp()
scheduled = QwertyClassifier(
    hidden_layer_sizes=(64, 64),
    max_epochs=60,
    validation_fraction=0.2,
    random_state=0,
    callbacks=[
        ("lr_schedule", LRScheduler(policy="StepLR", step_size=30, gamma=0.1)),
        ("valid_f1", EpochScoring("f1_macro", lower_is_better=False, name="valid_f1")),
        ("checkpoint", Checkpoint(dirname=checkpoint_dir, monitor="valid_loss_best")),
    ],
).fit(X_train, y_train)

history = scheduled.history_
print("recorded per epoch:", sorted(k for k in history[-1] if k != "batches"))
print(
    f"F1 at epochs 1, 30, 60: {history[0, 'valid_f1']:.3f}, "
    f"{history[29, 'valid_f1']:.3f}, {history[-1, 'valid_f1']:.3f}"
)
print(f"test accuracy: {scheduled.score(X_test, y_test):.3f}")

# %%
# The history is a skorch `History`: index it by epoch and key. After the step
# the learning rate is ten times smaller and the curves flatten.
import numpy as np

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
epochs = np.asarray(history[:, "epoch"])
ax.plot(epochs, history[:, "train_loss"], label="train loss")
ax.plot(epochs, history[:, "valid_loss"], label="validation loss")
ax.plot(epochs, history[:, "valid_f1"], label="validation F1 (macro)")
ax.axvline(30.5, color="k", linestyle=":", label="lr / 10")
ax.set_xlabel("epoch")
ax.legend()
plt.show()

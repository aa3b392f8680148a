"""The how-to "Validation loss inside a Pipeline": its claims and its two routes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from qwertyclf import QwertyClassifier
from test_doc_snippets import DOCS, python_blocks

PAGE = DOCS / "how-to" / "pipeline-validation.md"


@pytest.fixture(scope="module")
def page():
    """The namespace after running the page's setup block (data, `make_pipe`)."""
    namespace = {"__name__": "__main__"}
    exec(python_blocks(PAGE)[0][1], namespace)
    return namespace


def run_block(page, index):
    namespace = dict(page)
    exec(python_blocks(PAGE)[index][1], namespace)
    return namespace


def test_the_page_has_its_setup_and_two_routes():
    assert len(python_blocks(PAGE)) == 3


def test_validation_data_through_the_pipeline_is_not_transformed(page):
    # What the page warns about: with a text column the fit fails ...
    pipe = page["make_pipe"]()
    X_train, y_train = page["X_train"], page["y_train"]
    X_valid, y_valid = page["X_valid"], page["y_valid"]
    with pytest.raises(ValueError, match=r"X_val has 3 features, but .* with 4"):
        pipe.fit(X_train, y_train, clf__validation_data=(X_valid, y_valid))
    # ... and with a scaler alone the validation loss is that of unscaled rows.
    columns = ["length_cm", "width_cm"]
    pipe = make_pipeline(
        StandardScaler(), QwertyClassifier(max_epochs=30, random_state=0)
    )
    pipe.fit(
        X_train[columns],
        y_train,
        qwertyclassifier__validation_data=(X_valid[columns], y_valid),
    )
    reported = pipe[-1].history_[-1, "valid_loss"]
    actual = log_loss(y_valid, pipe.predict_proba(X_valid[columns]))
    assert reported > 5 * actual


def test_holding_out_rows_validates_on_transformed_rows(page):
    namespace = run_block(page, 1)
    clf = namespace["clf"]
    assert clf.early_stopping and clf.validation_fraction == 0.2
    assert clf.best_epoch_ <= clf.n_iter_
    # Held-out rows scaled and encoded like the rest: a loss far below that
    # of a uniform guess, log(3).
    assert clf.history_[-1, "valid_loss"] < 0.3
    assert clf.history_[-1, "valid_acc"] > 0.9


def test_own_validation_set_is_transformed_like_the_training_rows(page):
    namespace = run_block(page, 2)
    pipe, clf = namespace["pipe"], namespace["clf"]
    X_valid, y_valid = page["X_valid"], page["y_valid"]
    # The pipe[:-1] slice fitted the pipeline's own preprocessing step.
    assert namespace["prep"].steps[0][1] is pipe.steps[0][1]
    assert hasattr(pipe.named_steps["prep"], "transformers_")
    # The last epoch's validation scores are the fitted pipeline's on X_valid.
    assert clf.history_[-1, "valid_acc"] == pipe.score(X_valid, y_valid)
    np.testing.assert_allclose(
        clf.history_[-1, "valid_loss"],
        log_loss(y_valid, pipe.predict_proba(X_valid)),
        rtol=1e-4,
    )

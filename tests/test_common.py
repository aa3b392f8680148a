"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from qwertyclf import QwertyClassifier, QwertyClassifierCV, QwertyEnsembleClassifier


def _estimators():
    # Small, fast settings. Full batches in float64 make the sample-weight check
    # exact up to rounding:
    # weighting a row by k is then the same objective, step by step, as
    # repeating it k times (scikit-learn checks MLPClassifier with its
    # full-batch solver for the same reason).
    return [
        QwertyClassifier(
            max_epochs=40, batch_size=256, lr=0.05, dtype="float64", random_state=0
        ),
        # BatchEnsemble members: the network's other shape.
        QwertyClassifier(
            max_epochs=40,
            batch_size=256,
            lr=0.05,
            dtype="float64",
            random_state=0,
            batch_ensemble=3,
        ),
        # A numerical embedding in front of the hidden layers.
        QwertyClassifier(
            max_epochs=40,
            batch_size=256,
            lr=0.05,
            dtype="float64",
            random_state=0,
            numeric_embedding="pbld",
        ),
        # One candidate, refitted on all rows for its mean best epoch, without
        # the robust scaling (whose medians differ between weighting a row
        # and repeating it).
        QwertyClassifierCV(
            hidden_layer_sizes=[(8,)],
            lrs=[0.05],
            weight_decays=[0.0],
            n_candidates=1,
            batch_size=256,
            max_epochs=40,
            n_iter_no_change=40,
            preprocessing=None,
            refit=True,
            cv=2,
            dtype="float64",
            random_state=0,
        ),
        QwertyEnsembleClassifier(
            QwertyClassifier(max_epochs=40, batch_size=256, lr=0.05, dtype="float64"),
            n_estimators=2,
            random_state=0,
        ),
    ]


@parametrize_with_checks(_estimators())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

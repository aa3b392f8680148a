"""scikit-learn's estimator checks on the instances users get: the defaults.

`test_common.py` runs the checks with fast settings; this file runs them on
`QwertyClassifier(random_state=0)`, `QwertyClassifierCV(random_state=0)` and
`QwertyEnsembleClassifier(random_state=0)` as they are. One check, run on
dense and on sparse data, is expected to fail, and the reason is documented on
the reproducibility page: with mini-batches, weighting a row by k is not the
same training run as repeating it k times (the repeated copies land in
different batches and folds).
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from qwertyclf import QwertyClassifier, QwertyClassifierCV, QwertyEnsembleClassifier

#: What differs between weighting and repeating rows, per estimator.
SAMPLE_WEIGHT = {
    f"check_sample_weight_equivalence_on_{kind}_data": (
        "mini-batch training: a row weighted by k is not k repeated rows"
    )
    for kind in ("dense", "sparse")
}


def _expected_failures(estimator):
    return SAMPLE_WEIGHT


@pytest.mark.slow
@parametrize_with_checks(
    [
        QwertyClassifier(random_state=0),
        QwertyClassifierCV(random_state=0),
        QwertyEnsembleClassifier(random_state=0),
    ],
    expected_failed_checks=_expected_failures,
)
def test_default_instances_pass_the_checks(estimator, check):
    check(estimator)

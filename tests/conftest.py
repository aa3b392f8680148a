"""Fixtures shared by several test modules."""

import pytest
from sklearn.datasets import make_classification


@pytest.fixture(scope="session")
def three_classes():
    """120 rows, 5 features, 3 classes: small enough to train in float64."""
    return make_classification(
        120, 5, n_informative=4, n_redundant=0, n_classes=3, random_state=0
    )

from collections.abc import Mapping
from types import SimpleNamespace

import numpy as np
import pytest

from qwertyclf.datasets import BayesAccuracy
from qwertyclf.metrics import (
    PerClassAccuracy,
    format_accuracy_table,
    per_class_accuracy,
)


def test_per_class_accuracy_int_labels_not_starting_at_zero():
    acc = per_class_accuracy([3, 3, 5, 5, 7, 7], [3, 5, 5, 5, 3, 7])
    assert isinstance(acc, Mapping)
    assert acc.classes.tolist() == [3, 5, 7]
    np.testing.assert_allclose(acc.accuracy, [0.5, 1.0, 0.5])
    assert acc.support.tolist() == [2, 2, 2]
    assert acc.overall == pytest.approx(4 / 6)
    assert acc[5] == 1.0
    assert acc[np.int64(3)] == 0.5
    assert dict(acc) == {3: 0.5, 5: 1.0, 7: 0.5}


def test_per_class_accuracy_string_labels_and_label_order():
    y_true = np.array(["cat", "dog", "dog", "eel"])
    y_pred = np.array(["cat", "cat", "dog", "eel"])
    acc = per_class_accuracy(y_true, y_pred, labels=["eel", "dog", "cat"])
    assert list(acc) == ["eel", "dog", "cat"]
    assert acc.accuracy.tolist() == [1.0, 0.5, 1.0]
    assert acc["dog"] == 0.5
    assert len(acc) == 3
    assert repr(acc).startswith("PerClassAccuracy(overall=0.75")


def test_per_class_accuracy_class_without_samples_is_nan():
    acc = per_class_accuracy([0, 0, 1], [0, 2, 1])
    assert acc.classes.tolist() == [0, 1, 2]
    assert np.isnan(acc[2])
    assert acc.support.tolist() == [2, 1, 0]


def test_per_class_accuracy_matches_seed_loop():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 200)
    y_pred = np.where(rng.random(200) < 0.8, y_true, rng.integers(0, 3, 200))
    acc = per_class_accuracy(y_true, y_pred)
    correct = y_pred == y_true
    for c in [0, 1, 2]:
        assert acc[c] == pytest.approx(correct[y_true == c].mean())
    assert acc.overall == pytest.approx(correct.mean())


@pytest.mark.parametrize(
    ("y_true", "y_pred", "labels", "match"),
    [
        ([0, 1, 1], [0, 1], None, "inconsistent numbers of samples"),
        ([], [], None, "empty"),
        ([0, 1], [0, 1], [], "non-empty"),
    ],
)
def test_per_class_accuracy_errors(y_true, y_pred, labels, match):
    with pytest.raises(ValueError, match=match):
        per_class_accuracy(y_true, y_pred, labels=labels)


def test_per_class_accuracy_result_checks_lengths():
    with pytest.raises(ValueError, match="same length"):
        PerClassAccuracy([0, 1], [1.0], [1, 1], overall=1.0)


def test_str_is_the_table():
    acc = per_class_accuracy([0, 1], [0, 0])
    assert str(acc) == format_accuracy_table(acc)


def test_format_accuracy_table_without_reference():
    acc = per_class_accuracy([3, 3, 5, 7], [3, 5, 5, 7])
    lines = format_accuracy_table(acc).splitlines()
    assert lines[0].split() == ["class", "support", "accuracy"]
    assert lines[1].split() == ["3", "2", "50.0%"]
    assert lines[-1].split() == ["overall", "4", "75.0%"]
    assert len(lines) == 5


@pytest.mark.parametrize(
    "reference",
    [
        {"a": 0.9, "b": 0.8},
        np.array([0.9, 0.8]),
        PerClassAccuracy(["a", "b"], [0.9, 0.8], [5, 5], overall=0.85),
        SimpleNamespace(per_class={"a": 0.9, "b": 0.8}, overall=0.85),
        BayesAccuracy(0.85, per_class=[0.9, 0.8]),
    ],
)
def test_format_accuracy_table_with_per_class_reference(reference):
    acc = per_class_accuracy(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    lines = format_accuracy_table(acc, reference=reference, digits=0).splitlines()
    assert lines[0].split() == ["class", "support", "accuracy", "Bayes"]
    assert lines[1].split() == ["a", "2", "50%", "90%"]
    assert lines[2].split() == ["b", "2", "100%", "80%"]
    has_overall = hasattr(reference, "overall")
    assert lines[3].split()[-1] == ("85%" if has_overall else "-")


def test_format_accuracy_table_with_overall_reference_only():
    acc = per_class_accuracy([0, 1], [0, 1])
    lines = format_accuracy_table(
        acc, reference=0.875, reference_name="Bayes acc"
    ).splitlines()
    assert lines[0].endswith("Bayes acc")
    assert lines[1].split()[-1] == "-"
    assert lines[-1].split()[-1] == "87.5%"


def test_format_accuracy_table_nan_class():
    acc = per_class_accuracy([0, 0], [0, 1], labels=[0, 1])
    assert format_accuracy_table(acc).splitlines()[2].split() == ["1", "0", "-"]


def test_format_accuracy_table_reference_errors():
    acc = per_class_accuracy(["a", "b"], ["a", "b"])
    with pytest.raises(ValueError, match=r"no value for the classes \['b'\]"):
        format_accuracy_table(acc, reference={"a": 0.9})
    with pytest.raises(ValueError, match="one value per class"):
        format_accuracy_table(acc, reference=[0.9, 0.8, 0.7])


def test_format_accuracy_table_bayes_accuracy_without_per_class():
    acc = per_class_accuracy([0, 1], [0, 1])
    lines = format_accuracy_table(acc, reference=BayesAccuracy(0.9)).splitlines()
    assert lines[1].split()[-1] == "-"
    assert lines[-1].split()[-1] == "90.0%"

import io
import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.colors import to_rgba
from matplotlib.contour import QuadContourSet
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.inspection import DecisionBoundaryDisplay
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay
from skorch.history import History

import qwertyclf.plotting as plotting
from qwertyclf import QwertyClassifier
from qwertyclf.datasets import BayesAccuracy, GaussianBayesClassifier
from qwertyclf.metrics import per_class_accuracy
from qwertyclf.plotting import (
    ClassAccuracyDisplay,
    DatasetDisplay,
    DecisionRegionDisplay,
    MisclassificationDisplay,
    PredictionDisplay,
    TrainingCurvesDisplay,
    plot_diagnostics,
)

SET2 = [to_rgba(c) for c in matplotlib.colormaps["Set2"].colors]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


MEANS = np.array([[2, 1], [-2, 1], [0, -3]])


def _qwerty(n_per_class=30, seed=0, labels=(0, 1, 2)):
    """The lecture's three Gaussian classes, small."""
    rng = np.random.RandomState(seed)
    means = MEANS
    X = np.vstack([rng.multivariate_normal(m, np.eye(2), n_per_class) for m in means])
    y = np.repeat(np.asarray(labels), n_per_class)
    return X, y


@pytest.fixture(scope="module")
def data():
    return _qwerty()


@pytest.fixture(scope="module")
def str_data():
    return _qwerty(labels=("ant", "bee", "cat"))


@pytest.fixture(scope="module")
def clf(data):
    return LogisticRegression().fit(*data)


@pytest.fixture(scope="module")
def str_clf(str_data):
    return LogisticRegression().fit(*str_data)


@pytest.fixture(scope="module")
def qwerty_clf(data):
    X, y = data
    return QwertyClassifier(max_epochs=5, validation_fraction=0.2, random_state=0).fit(
        X, y
    )


class ThresholdOnFeature(ClassifierMixin, BaseEstimator):
    """Class 1 where X[:, feature] > 0; counts predict calls and their sizes."""

    def __init__(self, feature=0):
        self.feature = feature

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.calls_ = []
        return self

    def predict(self, X):
        X = np.asarray(X)
        self.calls_.append(len(X))
        return self.classes_[(X[:, self.feature] > 0).astype(int)]


def _rgba(collection):
    return tuple(collection.get_facecolor()[0])


# --- import and API ---------------------------------------------------------------


def test_import_does_not_import_pyplot():
    code = (
        "import sys, qwertyclf.plotting, qwertyclf.metrics; "
        "print('matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_public_names_exported_and_documented():
    assert sorted(plotting.__all__) == sorted(
        [
            "ClassAccuracyDisplay",
            "DatasetDisplay",
            "DecisionRegionDisplay",
            "MisclassificationDisplay",
            "PredictionDisplay",
            "TrainingCurvesDisplay",
            "plot_diagnostics",
        ]
    )
    for name in plotting.__all__:
        obj = getattr(plotting, name)
        assert "Examples\n    --------\n    >>>" in obj.__doc__, name


@pytest.mark.parametrize(
    ("display", "args"),
    [
        (DatasetDisplay, ()),
        (PredictionDisplay, ("y",)),
        (ClassAccuracyDisplay, ("y",)),
        (MisclassificationDisplay, ("y",)),
        (DecisionRegionDisplay, ()),
    ],
)
def test_unfitted_estimator_raises_not_fitted(display, args, data):
    X, y = data
    extra = [y for _ in args]
    with pytest.raises(NotFittedError):
        display.from_estimator(LogisticRegression(), X, *extra)


# --- DatasetDisplay ----------------------------------------------------------------


def test_dataset_from_data_string_labels(str_data):
    X, y = str_data
    disp = DatasetDisplay.from_data(X, y)
    assert disp.classes.tolist() == ["ant", "bee", "cat"]
    assert [s.get_label() for s in disp.scatters_] == ["ant", "bee", "cat"]
    assert [t.get_text() for t in disp.legend_.get_texts()] == ["ant", "bee", "cat"]
    for i, scatter in enumerate(disp.scatters_):
        assert _rgba(scatter)[:3] == pytest.approx(SET2[i][:3])
        np.testing.assert_array_equal(scatter.get_offsets(), X[y == y[0 + 30 * i]])
    assert disp.ax_.get_xlabel() == "Feature 0"
    assert disp.figure_ is disp.ax_.figure


def test_dataset_from_estimator_uses_estimator_classes(clf, data):
    X, y = data
    disp = DatasetDisplay.from_estimator(clf, X[y > 0], y[y > 0])
    # Class 0 has no sample but keeps its colour slot: colours match other panels.
    assert [len(s.get_offsets()) for s in disp.scatters_] == [0, 30, 30]
    assert _rgba(disp.scatters_[2])[:3] == pytest.approx(SET2[2][:3])
    disp = DatasetDisplay.from_estimator(clf, X)
    np.testing.assert_array_equal(disp.y, clf.predict(X))


def test_dataset_ax_reuse_and_features():
    X = np.random.default_rng(0).normal(size=(20, 3))
    fig, ax = plt.subplots()
    disp = DatasetDisplay.from_data(X, np.arange(20) % 2, features=(2, 0), ax=ax)
    assert disp.ax_ is ax and disp.figure_ is fig
    np.testing.assert_array_equal(disp.X, X[:, [2, 0]])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Feature 2", "Feature 0")


def test_dataset_dataframe_column_names():
    pd = pytest.importorskip("pandas")
    X, y = _qwerty(5)
    df = pd.DataFrame(X, columns=["width", "height"])
    disp = DatasetDisplay.from_data(df, y, features=("height", "width"))
    assert (disp.ax_.get_xlabel(), disp.ax_.get_ylabel()) == ("height", "width")
    np.testing.assert_array_equal(disp.X, X[:, [1, 0]])


@pytest.mark.parametrize(
    ("X", "y", "features", "match"),
    [
        (np.zeros((4, 1)), [0, 1, 0, 1], (0, 1), "at least 2"),
        (np.zeros((4, 2)), [0, 1, 0, 1], (0, 2), "out of range"),
        (np.zeros((4, 2)), [0, 1, 0, 1], (1, 1), "two different"),
        (np.zeros((4, 2)), [0, 1, 0, 1], (0,), "pair of feature"),
        (np.zeros((4, 2)), [0, 1, 0], (0, 1), "Inconsistent numbers of samples"),
    ],
)
def test_dataset_errors(X, y, features, match):
    with pytest.raises(ValueError, match=match):
        DatasetDisplay.from_data(X, y, features=features)


# --- TrainingCurvesDisplay ---------------------------------------------------------


def _history(n_epochs=4, valid_from=1):
    history = History()
    for epoch in range(1, n_epochs + 1):
        history.new_epoch()
        history.record("epoch", epoch)
        history.record("train_loss", 1.0 / epoch)
        history.record("train_acc", 1 - 0.5 / epoch)
        if epoch >= valid_from:
            history.record("valid_loss", 1.2 / epoch)
            history.record("valid_acc", 1 - 0.6 / epoch)
    return history


def test_training_curves_from_history():
    disp = TrainingCurvesDisplay.from_history(_history(), bayes_accuracy=0.95)
    assert set(disp.lines_) == {"train_loss", "valid_loss", "train_acc", "valid_acc"}
    loss_ax, acc_ax = disp.axes_
    assert len(loss_ax.get_lines()) == 2
    assert len(acc_ax.get_lines()) == 3  # two curves and the Bayes line
    np.testing.assert_array_equal(disp.lines_["train_loss"].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(disp.lines_["valid_acc"].get_ydata()[-1], 0.85)
    assert disp.bayes_line_.get_ydata()[0] == pytest.approx(0.95)
    assert [t.get_text() for t in acc_ax.get_legend().get_texts()] == [
        "Train accuracy",
        "Validation accuracy",
        "Bayes (95.0%)",
    ]
    assert loss_ax.get_xlabel() == "Epoch" and acc_ax.get_ylabel() == "Accuracy"
    assert disp.bounding_ax_ is None


def test_training_curves_missing_epochs_are_nan():
    disp = TrainingCurvesDisplay.from_history(_history(valid_from=3))
    assert np.isnan(disp.valid_loss[:2]).all()
    assert disp.valid_loss[2] == pytest.approx(0.4)


def test_training_curves_from_seed_results_dict():
    results = {
        "train_loss": [1.0, 0.5],
        "test_loss": [1.1, 0.6],
        "train_acc": [0.6, 0.8],
        "test_acc": [0.5, 0.7],
    }
    disp = TrainingCurvesDisplay.from_history(results)
    assert disp.valid_acc.tolist() == [0.5, 0.7]
    assert disp.epochs.tolist() == [1, 2]
    assert disp.bayes_line_ is None


def test_training_curves_loss_only_uses_one_axes():
    _, ax = plt.subplots()
    disp = TrainingCurvesDisplay.from_history({"train_loss": [0.9, 0.4]}, ax=ax)
    assert list(disp.axes_) == [ax]
    assert list(disp.lines_) == ["train_loss"]


def test_training_curves_from_estimator(qwerty_clf):
    disp = TrainingCurvesDisplay.from_estimator(qwerty_clf, bayes_accuracy=0.9)
    assert set(disp.lines_) == {"train_loss", "valid_loss", "train_acc", "valid_acc"}
    np.testing.assert_array_equal(disp.epochs, np.arange(1, 6))
    np.testing.assert_allclose(
        disp.lines_["train_loss"].get_ydata(), qwerty_clf.history_[:, "train_loss"]
    )


def test_training_curves_ax_reuse():
    fig, axes = plt.subplots(1, 2)
    disp = TrainingCurvesDisplay.from_history(_history(), ax=axes)
    assert list(disp.axes_) == list(axes) and disp.figure_ is fig
    fig, ax = plt.subplots()
    disp = TrainingCurvesDisplay.from_history(_history(), ax=ax)
    assert disp.bounding_ax_ is ax and not ax.axison
    assert len(disp.axes_) == 2 and all(a.figure is fig for a in disp.axes_)


def test_training_curves_errors(clf):
    with pytest.raises(NotFittedError):
        TrainingCurvesDisplay.from_estimator(QwertyClassifier())
    with pytest.raises(ValueError, match="has no history_"):
        TrainingCurvesDisplay.from_estimator(clf)
    with pytest.raises(ValueError, match="differ in length"):
        TrainingCurvesDisplay.from_history({"train_loss": [1, 2], "test_loss": [1]})
    with pytest.raises(ValueError, match="neither"):
        TrainingCurvesDisplay.from_history({"valid_loss": [1.0]})
    with pytest.raises(ValueError, match="Expected 2 axes"):
        _, axes = plt.subplots(1, 3)
        TrainingCurvesDisplay.from_history(_history(), ax=axes)


# --- PredictionDisplay -------------------------------------------------------------


def test_predictions_from_predictions_non_contiguous_labels():
    y_true = np.array([3, 5, 7, 7, 5])
    y_pred = np.array([3, 7, 7, 5, 5])
    disp = PredictionDisplay.from_predictions(y_true, y_pred)
    np.testing.assert_array_equal(disp.misclassified, [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(disp.pred_line_.get_ydata(), [0, 2, 2, 1, 1])
    np.testing.assert_allclose(disp.true_line_.get_ydata(), [0.2, 1.2, 2.2, 2.2, 1.2])
    np.testing.assert_array_equal(disp.errors_line_.get_xdata(), [1, 3])
    ticks = [t.get_text() for t in disp.ax_.get_yticklabels()]
    assert ticks == ["3", "5", "7"]
    assert disp.pred_line_.get_marker() == "o"
    assert disp.true_line_.get_marker() == "s"


def test_predictions_from_estimator_string_labels(str_clf, str_data):
    X, y = str_data
    fig, ax = plt.subplots()
    disp = PredictionDisplay.from_estimator(str_clf, X, y, ax=ax, offset=0.3)
    assert disp.ax_ is ax and disp.figure_ is fig
    np.testing.assert_array_equal(disp.misclassified, str_clf.predict(X) != y)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["ant", "bee", "cat"]
    np.testing.assert_allclose(disp.true_line_.get_ydata()[:3], 0.3)
    assert len(disp.pred_line_.get_xdata()) == len(y)


def test_predictions_errors():
    with pytest.raises(ValueError, match="Inconsistent numbers of samples"):
        PredictionDisplay.from_predictions([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match=r"not among the classes.*\[2\]"):
        PredictionDisplay.from_predictions([0, 1], [0, 2], labels=[0, 1])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        PredictionDisplay.from_estimator(
            LogisticRegression().fit([[0], [1]], [0, 1]), [[0], [1]], [0, 1, 1]
        )


# --- ClassAccuracyDisplay ----------------------------------------------------------


def test_class_accuracy_from_predictions():
    y_true = np.array(["b", "b", "a", "a", "c", "c"])
    y_pred = np.array(["b", "a", "a", "a", "c", "b"])
    disp = ClassAccuracyDisplay.from_predictions(
        y_true, y_pred, reference={"a": 0.9, "b": 0.8, "c": 0.7}
    )
    assert [b.get_height() for b in disp.bars_] == [1.0, 0.5, 0.5]
    assert [to_rgba(b.get_facecolor())[:3] for b in disp.bars_] == [
        pytest.approx(c[:3]) for c in SET2[:3]
    ]
    assert [t.get_text() for t in disp.bar_labels_] == ["100.0%", "50.0%", "50.0%"]
    assert [t.get_text() for t in disp.ax_.get_xticklabels()] == ["a", "b", "c"]
    assert disp.overall_line_.get_ydata()[0] == pytest.approx(4 / 6)
    segments = disp.reference_lines_.get_segments()
    assert [s[0][1] for s in segments] == pytest.approx([0.9, 0.8, 0.7])
    labels = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert labels == ["Overall (66.7%)", "Bayes"]


def test_class_accuracy_from_estimator_and_ax_reuse(clf, data):
    X, y = data
    fig, ax = plt.subplots()
    reference = per_class_accuracy(y, clf.predict(X))
    disp = ClassAccuracyDisplay.from_estimator(clf, X, y, reference=reference, ax=ax)
    assert disp.ax_ is ax and disp.figure_ is fig
    assert len(disp.bars_) == 3
    np.testing.assert_allclose(disp.accuracy, reference.accuracy)
    assert disp.overall_accuracy == pytest.approx(clf.score(X, y))
    assert disp.reference_lines_ is not None


def test_class_accuracy_class_without_samples():
    disp = ClassAccuracyDisplay.from_predictions([0, 0], [0, 0], labels=[0, 1])
    assert [t.get_text() for t in disp.bar_labels_] == ["100.0%", "n/a"]
    assert disp.reference_lines_ is None


def test_class_accuracy_errors():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ClassAccuracyDisplay.from_predictions([0, 1], [0])
    with pytest.raises(ValueError, match="one value per class"):
        ClassAccuracyDisplay.from_predictions([0, 1], [0, 1], reference=[0.9])


# --- MisclassificationDisplay ------------------------------------------------------


def test_misclassification_from_predictions():
    X = np.array([[0.0, 0.0, 9.0], [1.0, 0.0, 8.0], [2.0, 1.0, 7.0], [3.0, 2.0, 6.0]])
    y_true = np.array([7, 7, 3, 3])
    y_pred = np.array([7, 3, 3, 7])
    disp = MisclassificationDisplay.from_predictions(X, y_true, y_pred, features=(0, 2))
    np.testing.assert_array_equal(disp.misclassified, [0, 1, 0, 1])
    np.testing.assert_array_equal(disp.circles_.get_offsets(), [[1, 8], [3, 6]])
    assert disp.circles_.get_label() == "Misclassified (2)"
    assert len(disp.circles_.get_facecolor()) == 0  # open circles
    assert [s.get_label() for s in disp.scatters_] == ["3", "7"]
    assert [len(s.get_offsets()) for s in disp.scatters_] == [2, 2]
    assert _rgba(disp.scatters_[1])[:3] == pytest.approx(SET2[1][:3])
    assert disp.ax_.get_ylabel() == "Feature 2"


def test_misclassification_from_estimator_and_ax_reuse(str_clf, str_data):
    X, y = str_data
    fig, ax = plt.subplots()
    disp = MisclassificationDisplay.from_estimator(str_clf, X, y, ax=ax)
    assert disp.ax_ is ax and disp.figure_ is fig
    wrong = str_clf.predict(X) != y
    np.testing.assert_array_equal(disp.misclassified, wrong)
    np.testing.assert_array_equal(disp.circles_.get_offsets(), X[wrong])
    assert sum(len(s.get_offsets()) for s in disp.scatters_) == len(X)


def test_misclassification_errors():
    with pytest.raises(ValueError, match="Inconsistent numbers of samples"):
        MisclassificationDisplay.from_predictions(np.zeros((3, 2)), [0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="out of range"):
        MisclassificationDisplay.from_predictions(
            np.zeros((2, 2)), [0, 1], [0, 1], features=(0, 5)
        )


# --- DecisionRegionDisplay ---------------------------------------------------------


def test_decision_regions_from_estimator(clf, data):
    X, y = data
    disp = DecisionRegionDisplay.from_estimator(clf, X, y, grid_resolution=40)
    assert disp.xx0.shape == disp.response.shape == (40, 40)
    grid = np.c_[disp.xx0.ravel(), disp.xx1.ravel()]
    np.testing.assert_array_equal(disp.response.ravel(), clf.predict(grid))
    assert disp.xx0.min() < X[:, 0].min() and disp.xx1.max() > X[:, 1].max()
    assert isinstance(disp.boundary_display_, DecisionBoundaryDisplay)
    assert isinstance(disp.surface_, QuadContourSet)
    np.testing.assert_allclose(
        np.asarray(disp.surface_.get_cmap().colors)[:3, :3], np.array(SET2)[:3, :3]
    )
    np.testing.assert_array_equal(disp.misclassified, clf.predict(X) != y)
    np.testing.assert_array_equal(disp.circles_.get_offsets(), X[disp.misclassified])
    assert [len(s.get_offsets()) for s in disp.scatters_] == [30, 30, 30]
    assert disp.bayes_contours_ is None


def test_decision_regions_string_labels_and_bayes_boundary(str_clf, str_data):
    X, y = str_data
    bayes = GaussianBayesClassifier(MEANS).fit(X, y)
    fig, ax = plt.subplots()
    disp = DecisionRegionDisplay.from_estimator(
        str_clf, X, y, bayes_estimator=bayes, grid_resolution=30, ax=ax
    )
    assert disp.ax_ is ax and disp.figure_ is fig
    assert set(np.unique(disp.response)) == {0, 1, 2}
    grid = np.c_[disp.xx0.ravel(), disp.xx1.ravel()]
    expected = np.searchsorted(bayes.classes_, bayes.predict(grid))
    np.testing.assert_array_equal(disp.bayes_response.ravel(), expected)
    assert len(disp.bayes_contours_) == 3  # one outline per Bayes region
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["ant", "bee", "cat"]
    assert legend[-1] == "Bayes boundary"


def test_decision_regions_binary_uses_class_colours(data):
    X, y = data
    y2 = np.where(y == 0, "yes", "no")
    est = LogisticRegression().fit(X, y2)
    disp = DecisionRegionDisplay.from_estimator(
        est, X, y2, grid_resolution=20, plot_method="pcolormesh"
    )
    assert disp.surface_.get_cmap().colors[1][:3] == pytest.approx(SET2[1][:3])
    assert disp.surface_.get_array().size == 20 * 20


def test_decision_regions_more_features_held_fixed():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    X[:, 2] += 1.0  # median > 0
    y = np.where(X[:, 2] > 0, 1, 0)
    est = ThresholdOnFeature(feature=2).fit(X, y)
    disp = DecisionRegionDisplay.from_estimator(est, X, y, grid_resolution=10)
    assert (disp.response == 1).all()  # feature 2 held at its median
    disp = DecisionRegionDisplay.from_estimator(
        est, X, y, grid_resolution=10, feature_values={2: -1.0}
    )
    assert (disp.response == 0).all()
    disp = DecisionRegionDisplay.from_estimator(
        est, X, y, grid_resolution=10, feature_values=[9.0, 9.0, -1.0]
    )
    assert (disp.response == 0).all()
    disp = DecisionRegionDisplay.from_estimator(
        est, X, y, features=(2, 0), grid_resolution=10
    )
    np.testing.assert_array_equal(disp.response[:, 0], disp.xx0[:, 0] > 0)
    np.testing.assert_array_equal(disp.X, X[:, [2, 0]])


def test_decision_regions_grid_is_predicted_in_batches(data):
    X, y = data
    est = ThresholdOnFeature().fit(X, y)
    disp = DecisionRegionDisplay.from_estimator(
        est, X, y, grid_resolution=30, batch_size=400
    )
    assert est.calls_ == [400, 400, 100, len(X)]
    np.testing.assert_array_equal(disp.response, (disp.xx0 > 0).astype(int))


def test_decision_regions_dataframe_keeps_feature_names(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    df = pd.DataFrame(X, columns=["x", "y"])
    est = LogisticRegression().fit(df, y)
    # filterwarnings=error: a grid without feature names would fail here.
    disp = DecisionRegionDisplay.from_estimator(est, df, y, grid_resolution=10)
    assert (disp.ax_.get_xlabel(), disp.ax_.get_ylabel()) == ("x", "y")


def test_decision_regions_qwerty_classifier(qwerty_clf, data):
    X, y = data
    disp = DecisionRegionDisplay.from_estimator(qwerty_clf, X, y, grid_resolution=50)
    grid = np.c_[disp.xx0.ravel(), disp.xx1.ravel()]
    np.testing.assert_array_equal(disp.response.ravel(), qwerty_clf.predict(grid))


def test_decision_regions_without_labels(clf, data):
    X, _ = data
    disp = DecisionRegionDisplay.from_estimator(clf, X, grid_resolution=10)
    assert disp.misclassified is None and disp.circles_ is None
    assert sum(len(s.get_offsets()) for s in disp.scatters_) == len(X)


@pytest.mark.parametrize(
    ("X", "kwargs", "match"),
    [
        (np.zeros((4, 1)), {}, "at least 2"),
        (np.zeros((4, 3)), {"features": (0, 3)}, "out of range"),
        (np.zeros((4, 3)), {"features": (-4, 0)}, "out of range"),
        (np.zeros((4, 2)), {"grid_resolution": 1}, "grid_resolution"),
        (np.zeros((4, 2)), {"plot_method": "contour"}, "plot_method"),
        (np.zeros((4, 3)), {"feature_values": {5: 1.0}}, "feature_values"),
        (np.zeros((4, 3)), {"feature_values": [1.0]}, "one value per feature"),
    ],
)
def test_decision_regions_errors(X, kwargs, match):
    est = ThresholdOnFeature().fit(X, [0, 1, 0, 1])
    with pytest.raises(ValueError, match=match):
        DecisionRegionDisplay.from_estimator(est, X, [0, 1, 0, 1], **kwargs)


def test_decision_regions_length_mismatch(clf, data):
    X, y = data
    with pytest.raises(ValueError, match="Inconsistent numbers of samples"):
        DecisionRegionDisplay.from_estimator(clf, X, y[:-1])


# --- plot_diagnostics --------------------------------------------------------------


def test_plot_diagnostics_full(qwerty_clf, data):
    X, y = data
    X_test, y_test = _qwerty(10, seed=1)
    bayes = GaussianBayesClassifier(MEANS).fit(X, y)
    fig, displays = plot_diagnostics(
        qwerty_clf,
        X,
        y,
        X_test,
        y_test,
        bayes_estimator=bayes,
        grid_resolution=30,
        figsize=(9, 8),
    )
    assert set(displays) == {
        "training_curves",
        "class_accuracy",
        "decision_regions",
        "misclassification",
        "confusion_matrix",
        "predictions",
    }
    assert all(d.figure_ is fig for d in displays.values())
    assert len(fig.axes) == 7
    cm = displays["confusion_matrix"]
    assert isinstance(cm, ConfusionMatrixDisplay)
    assert cm.confusion_matrix.sum() == len(y_test)
    bayes_acc = bayes.score(X_test, y_test)
    curves = displays["training_curves"]
    assert curves.bayes_line_.get_ydata()[0] == pytest.approx(bayes_acc)
    assert displays["class_accuracy"].reference_lines_ is not None
    assert len(displays["predictions"].y_true) == len(y_test)
    assert displays["decision_regions"].bayes_contours_
    for fmt, magic in [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")]:
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt)
        assert buffer.getvalue().startswith(magic)


def test_plot_diagnostics_colours_and_names_agree_across_panels(str_clf, str_data):
    X, y = str_data
    _, displays = plot_diagnostics(str_clf, X, y, grid_resolution=10)
    assert "dataset" in displays  # no history_: the data replaces the curves
    bars = displays["class_accuracy"].bars_
    for i, name in enumerate(["ant", "bee", "cat"]):
        colour = pytest.approx(SET2[i][:3])
        assert to_rgba(bars[i].get_facecolor())[:3] == colour
        for key in ("dataset", "misclassification", "decision_regions"):
            scatter = displays[key].scatters_[i]
            assert scatter.get_label() == name
            assert _rgba(scatter)[:3] == colour
    cm_ticks = [
        t.get_text() for t in displays["confusion_matrix"].ax_.get_xticklabels()
    ]
    assert cm_ticks == ["ant", "bee", "cat"]


def test_plot_diagnostics_one_feature_and_errors():
    X = np.linspace(-1, 1, 20).reshape(-1, 1)
    y = (X[:, 0] > 0).astype(int)
    est = LogisticRegression().fit(X, y)
    _, displays = plot_diagnostics(est, X, y)
    assert set(displays) == {"class_accuracy", "confusion_matrix", "predictions"}
    with pytest.raises(ValueError, match="both X_test and y_test"):
        plot_diagnostics(est, X, y, X_test=X)
    with pytest.raises(NotFittedError):
        plot_diagnostics(LogisticRegression(), X, y)


def test_plot_diagnostics_known_bayes_accuracy(qwerty_clf, data):
    X, y = data
    known = BayesAccuracy(0.97, per_class=[0.96, 0.97, 0.98])
    _, displays = plot_diagnostics(
        qwerty_clf, X, y, bayes_accuracy=known, grid_resolution=10
    )
    curves = displays["training_curves"]
    assert curves.bayes_line_.get_ydata()[0] == pytest.approx(0.97)
    segments = displays["class_accuracy"].reference_lines_.get_segments()
    assert [s[0][1] for s in segments] == pytest.approx([0.96, 0.97, 0.98])
    assert displays["decision_regions"].bayes_contours_ is None


def test_plot_diagnostics_bayes_of_the_generator_with_string_labels(str_data):
    # The generator's Bayes classifier predicts 0..2; the classifier was fitted
    # on names. Class k is the k-th name, as GaussianBayesClassifier matches
    # them when fitted with the names.
    X, y = str_data
    clf = QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)
    generator_bayes = GaussianBayesClassifier(MEANS).fit(X)
    named_bayes = GaussianBayesClassifier(MEANS).fit(X, y)
    assert generator_bayes.classes_.tolist() == [0, 1, 2]
    references = []
    for bayes in (generator_bayes, named_bayes):
        _, displays = plot_diagnostics(
            clf, X, y, bayes_estimator=bayes, grid_resolution=10
        )
        references.append(displays["class_accuracy"].reference)
        curves = displays["training_curves"]
        assert curves.bayes_line_.get_ydata()[0] == pytest.approx(
            named_bayes.score(X, y)
        )
    np.testing.assert_array_equal(references[0], references[1])
    assert np.all(references[0] > 0.8)


def test_plot_diagnostics_refuses_a_bayes_estimator_of_other_classes(str_data):
    X, y = str_data
    clf = LogisticRegression().fit(X, y)
    # Four components for three classes: no class-by-class match.
    other = GaussianBayesClassifier(np.r_[MEANS, [[5, 5]]]).fit(X)
    with pytest.raises(
        ValueError, match=r"not the estimator's classes.*bayes_accuracy"
    ):
        plot_diagnostics(clf, X, y, bayes_estimator=other, grid_resolution=10)


# --- pipelines and raw tables ------------------------------------------------------


def _raw_frame(n=90, seed=0):
    """A raw table: two numbers, a string column; the class needs all three."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2])
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=n),
            "ratio": rng.uniform(size=n),
            "colour": colour.astype(object),
        }
    )
    y = np.where(colour == "red", "a", np.where(frame["size"] > 0, "b", "c"))
    return frame, y


@pytest.fixture(scope="module")
def raw_pipeline():
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, y = _raw_frame()
    pipe = make_pipeline(
        make_column_transformer(
            (StandardScaler(), ["size", "ratio"]), (OneHotEncoder(), ["colour"])
        ),
        QwertyClassifier(max_epochs=5, random_state=0),
    ).fit(frame, y)
    return pipe, frame, y


def test_plot_diagnostics_pipeline_on_a_raw_dataframe(raw_pipeline):
    pipe, frame, y = raw_pipeline
    before = frame.copy()
    fig, displays = plot_diagnostics(pipe, frame, y, grid_resolution=12)
    assert set(displays) == {
        "training_curves",
        "class_accuracy",
        "decision_regions",
        "misclassification",
        "confusion_matrix",
        "predictions",
    }
    assert all(d.figure_ is fig for d in displays.values())
    # The curves are the last step's history.
    history = pipe[-1].history_
    np.testing.assert_array_equal(
        displays["training_curves"].lines_["train_loss"].get_ydata(),
        [row["train_loss"] for row in history],
    )
    # Accuracy and mistakes come from predict on the raw rows.
    y_pred = pipe.predict(frame)
    np.testing.assert_array_equal(
        displays["class_accuracy"].accuracy,
        per_class_accuracy(y, y_pred, labels=pipe.classes_).accuracy,
    )
    np.testing.assert_array_equal(
        displays["misclassification"].misclassified, y_pred != y
    )
    np.testing.assert_array_equal(displays["predictions"].y_pred, y_pred)
    # The plane is the two numeric columns; the string column is held fixed.
    regions = displays["decision_regions"]
    assert (regions.ax_.get_xlabel(), regions.ax_.get_ylabel()) == ("size", "ratio")
    assert displays["misclassification"].ax_.get_xlabel() == "size"
    assert regions.fixed_values == {"colour": "red"}  # the most frequent
    assert regions.fixed_by == {"colour": "most frequent"}
    grid = frame.iloc[:0].reindex(range(regions.xx0.size))
    grid["size"] = regions.xx0.ravel()
    grid["ratio"] = regions.xx1.ravel()
    grid["colour"] = "red"
    expected = np.searchsorted(pipe.classes_, pipe.predict(grid))
    np.testing.assert_array_equal(regions.response.ravel(), expected)
    assert frame.equals(before)


def test_plot_diagnostics_qwerty_classifier_on_categories_and_missing_values():
    pd = pytest.importorskip("pandas")
    frame, y = _raw_frame(seed=1)
    frame["colour"] = frame["colour"].astype("category")
    frame["flag"] = frame["ratio"] > 0.3
    frame["count"] = pd.array(np.arange(len(frame)) % 5, dtype="Int64")
    frame.loc[::7, "size"] = np.nan
    frame.loc[::11, "count"] = pd.NA
    clf = QwertyClassifier(max_epochs=3, random_state=0).fit(frame, y)
    _, displays = plot_diagnostics(clf, frame, y, grid_resolution=10)
    regions = displays["decision_regions"]
    # Default axes: the first two numeric columns.
    assert (regions.xlabel, regions.ylabel) == ("size", "ratio")
    assert np.isfinite(regions.xx0).all()  # the missing sizes set no extent
    seen = frame["size"].notna()
    assert regions.xx0.min() < frame["size"].min() < frame["size"].max()
    assert regions.fixed_values == {
        "colour": "red",
        "flag": True,
        "count": float(frame["count"].dropna().median()),
    }
    assert regions.fixed_by == {
        "colour": "most frequent",
        "flag": "most frequent",
        "count": "median",
    }
    note = regions.slice_note_.get_text()
    assert "colour = red (most frequent)" in note and "flag = True" in note
    assert "count = 2 (median)" in note
    assert regions.slice_note_ in regions.ax_.texts
    # Points are drawn at their own values; a missing size is not drawn.
    np.testing.assert_array_equal(regions.X[seen], frame.loc[seen, ["size", "ratio"]])
    assert np.isnan(regions.X[~seen, 0]).all()
    np.testing.assert_array_equal(
        displays["class_accuracy"].accuracy,
        per_class_accuracy(y, clf.predict(frame), labels=clf.classes_).accuracy,
    )


def test_training_curves_of_a_pipeline_and_of_several_networks(raw_pipeline):
    from qwertyclf import QwertyEnsembleClassifier

    pipe = raw_pipeline[0]
    disp = TrainingCurvesDisplay.from_estimator(pipe)
    assert len(disp.epochs) == len(pipe[-1].history_)
    X, y = _qwerty(15)
    ensemble = QwertyEnsembleClassifier(
        QwertyClassifier(max_epochs=3), n_estimators=2, random_state=0
    ).fit(X, y)
    with pytest.raises(ValueError, match=r"2 network.*estimators_\[0\]"):
        TrainingCurvesDisplay.from_estimator(ensemble)
    _, displays = plot_diagnostics(ensemble, X, y, grid_resolution=10)
    curves = displays["training_curves"]
    assert [ax.get_title() for ax in curves.axes_] == [
        "Loss over epochs (network 1 of 2)",
        "Accuracy over epochs (network 1 of 2)",
    ]
    np.testing.assert_array_equal(
        curves.train_loss, [r["train_loss"] for r in ensemble.estimators_[0].history_]
    )


def _four_features(n=80, seed=0):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) + np.array([0.0, 0.0, 1.5, -2.0])
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    y = np.where(X[:, 0] + X[:, 2] - 1.5 > 0, "right", "left")
    return frame, y


def test_decision_regions_four_features_state_the_slice():
    frame, y = _four_features()
    est = LogisticRegression().fit(frame, y)
    disp = DecisionRegionDisplay.from_estimator(est, frame, y, grid_resolution=15)
    assert (disp.ax_.get_xlabel(), disp.ax_.get_ylabel()) == ("a", "b")
    medians = {"c": frame["c"].median(), "d": frame["d"].median()}
    assert disp.fixed_values == pytest.approx(medians)
    assert disp.fixed_by == {"c": "median", "d": "median"}
    note = disp.slice_note_.get_text()
    assert f"c = {medians['c']:.3g} (median)" in note
    assert f"d = {medians['d']:.3g} (median)" in note
    assert "projected" in note
    # The grid is the slice: c and d at their medians.
    grid = frame.iloc[:0].reindex(range(disp.xx0.size))
    grid["a"], grid["b"] = disp.xx0.ravel(), disp.xx1.ravel()
    grid["c"], grid["d"] = medians["c"], medians["d"]
    expected = np.searchsorted(est.classes_, est.predict(grid))
    np.testing.assert_array_equal(disp.response.ravel(), expected)
    # Points far from the slice are fainter.
    alphas = np.concatenate([s.get_facecolor()[:, 3] for s in disp.scatters_])
    order = np.concatenate([np.flatnonzero(disp.y_true == c) for c in disp.classes])
    distance = disp.slice_distance[order]
    assert alphas[np.argmin(distance)] > alphas[np.argmax(distance)]
    assert alphas.max() <= 1.0 and alphas.min() >= 0.15


def test_decision_regions_features_chosen_by_name(data):
    frame, y = _four_features()
    est = ThresholdOnFeature(feature=2).fit(frame.to_numpy(), y)
    disp = DecisionRegionDisplay.from_estimator(
        est, frame, y, features=("c", "a"), grid_resolution=10
    )
    assert (disp.xlabel, disp.ylabel) == ("c", "a")
    np.testing.assert_array_equal(disp.X, frame[["c", "a"]].to_numpy())
    assert set(disp.fixed_values) == {"b", "d"}
    np.testing.assert_array_equal(disp.response[0], disp.xx0[0] > 0)
    # An array takes the names the estimator was fitted with.
    est.feature_names_in_ = np.array(["a", "b", "c", "d"], dtype=object)
    disp = DecisionRegionDisplay.from_estimator(
        est, frame.to_numpy(), y, features=("d", "c"), feature_values={"a": 1.0}
    )
    assert (disp.xlabel, disp.ylabel) == ("d", "c")
    assert disp.fixed_values == {"a": 1.0, "b": pytest.approx(frame["b"].median())}
    assert disp.fixed_by == {"a": "given", "b": "median"}


def test_decision_regions_refuse_a_categorical_axis(raw_pipeline):
    pipe, frame, y = raw_pipeline
    with pytest.raises(ValueError, match=r"'colour' is categorical.*'size', 'ratio'"):
        DecisionRegionDisplay.from_estimator(pipe, frame, y, features=("colour", 0))
    with pytest.raises(ValueError, match="categorical"):
        MisclassificationDisplay.from_estimator(pipe, frame, y, features=(2, 1))
    with pytest.raises(ValueError, match="'shape' is not a column"):
        DecisionRegionDisplay.from_estimator(pipe, frame, y, features=("shape", 0))
    only_one = frame[["colour", "size"]]
    with pytest.raises(ValueError, match="1 numeric feature"):
        DatasetDisplay.from_data(only_one, y)


def test_decision_regions_categorical_value_given(raw_pipeline):
    pipe, frame, y = raw_pipeline
    disp = DecisionRegionDisplay.from_estimator(
        pipe, frame, y, feature_values={"colour": "blue"}, grid_resolution=10
    )
    assert disp.fixed_values == {"colour": "blue"}
    assert "colour = blue (given)" in disp.slice_note_.get_text()
    # Off the slice: every sample whose colour is not blue is faded.
    far = np.asarray(frame["colour"] != "blue")
    np.testing.assert_array_equal(disp.slice_distance, far.astype(float))


def test_decision_regions_numbers_declared_categorical_are_not_axes():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "code": rng.choice([75001, 13001], 60),
            "x": rng.normal(size=60),
            "z": rng.normal(size=60),
        }
    )
    y = np.where(frame["x"] > 0, 1, 0)
    clf = QwertyClassifier(
        categorical_features=["code"], max_epochs=2, random_state=0
    ).fit(frame, y)
    disp = DecisionRegionDisplay.from_estimator(clf, frame, y, grid_resolution=8)
    assert (disp.xlabel, disp.ylabel) == ("x", "z")
    assert disp.fixed_by == {"code": "most frequent"}
    assert disp.fixed_values["code"] == frame["code"].mode()[0]
    with pytest.raises(ValueError, match="'code' is categorical"):
        DecisionRegionDisplay.from_estimator(clf, frame, y, features=("code", "x"))


def test_plot_diagnostics_without_two_numeric_columns_leaves_out_the_plane():
    frame, y = _raw_frame()
    frame = frame[["size", "colour"]]
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    pipe = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["colour"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(frame, y)
    _, displays = plot_diagnostics(pipe, frame, y, grid_resolution=10)
    assert set(displays) == {"class_accuracy", "confusion_matrix", "predictions"}


def test_decision_regions_two_numeric_features_have_no_slice(clf, data):
    X, y = data
    disp = DecisionRegionDisplay.from_estimator(clf, X, y, grid_resolution=10)
    assert disp.fixed_values is None and disp.slice_distance is None
    assert disp.slice_note_ is None and not disp.ax_.texts
    for scatter in disp.scatters_:
        assert len(scatter.get_facecolor()) == 1  # one colour, no fading
        assert scatter.get_facecolor()[0][3] == 1.0


@pytest.mark.parametrize(
    ("display", "with_y"),
    [
        (DatasetDisplay, True),
        (PredictionDisplay, True),
        (ClassAccuracyDisplay, True),
        (MisclassificationDisplay, True),
        (DecisionRegionDisplay, True),
        (DecisionRegionDisplay, False),
    ],
)
def test_each_display_takes_a_pipeline_and_raw_rows(display, with_y, raw_pipeline):
    pipe, frame, y = raw_pipeline
    kwargs = {"grid_resolution": 8} if display is DecisionRegionDisplay else {}
    args = (y,) if with_y else ()
    disp = display.from_estimator(pipe, frame, *args, **kwargs)
    np.testing.assert_array_equal(disp.classes, pipe.classes_)
    if hasattr(disp, "xlabel"):
        assert (disp.xlabel, disp.ylabel) == ("size", "ratio")

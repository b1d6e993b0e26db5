import numpy as np
from sklearn.metrics import f1_score

from lepton_widgets.core.evaluation import evaluate_predictions, expected_calibration_error


def test_metrics_agree_with_sklearn_and_worst_examples_are_most_confident_mistakes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    logits = rng.normal(size=(200, 4)) + 2.0 * np.eye(4)[y]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    refs = [f"img_{i}.png" for i in range(200)]
    result = evaluate_predictions(y, probs, ["a", "b", "c", "d"], refs=refs, paths=refs, n_worst=5)
    pred = probs.argmax(1)
    assert result.accuracy == np.mean(pred == y)
    assert np.isclose(result.per_class["f1"].mean(), f1_score(y, pred, average="macro"))
    assert result.confusion.sum() == 200 and np.trace(result.confusion) == (pred == y).sum()
    assert result.top_k == 3 and result.top_k_accuracy >= result.accuracy
    confidences = [w["confidence"] for w in result.worst]
    assert confidences == sorted(confidences, reverse=True) and len(confidences) == 5
    assert all(w["true"] != w["predicted"] and w["path"] == w["ref"] for w in result.worst)
    assert set(result.to_dict()) >= {"accuracy", "per_class", "confusion", "worst", "ece"}


def test_ece_is_zero_when_perfectly_calibrated_and_large_when_overconfident():
    y = np.array([0, 1] * 50)
    confident_right = np.eye(2)[y]
    assert expected_calibration_error(y, confident_right) == 0.0
    confident_wrong = np.eye(2)[1 - y]
    assert expected_calibration_error(y, confident_wrong) == 1.0

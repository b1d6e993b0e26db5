"""The plain baseline a table model must beat: scikit-learn logistic regression on the same split.

One-hot categorical columns, standardised numeric ones (missing numbers imputed with the train mean, as
the Keras model does), an L2-regularised logistic regression, ROC AUC on the test split (one-vs-rest macro
for more than two classes). tests/test_tabular.py and ``benchmarks/tabular_credit.py`` hold our MLP to it.

Example:
    >>> from lepton_widgets.config import DataConfig
    >>> from lepton_widgets.core.tasks.tabular import prepare_table
    >>> data = prepare_table(DataConfig(dataset="breast_cancer", max_per_class=None), seed=0)
    >>> round(logistic_regression_auc(data), 2) >= 0.95
    True
"""

from __future__ import annotations

import numpy as np

from lepton_widgets.core.tasks.tabular.data import TabularData


def logistic_regression_auc(data: TabularData, split: str = "test") -> float:
    """Test ROC AUC of a logistic regression trained on ``data``'s train split."""
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    (train, train_x), (test, test_x) = data.split("train"), data.split(split)
    categorical, numeric = data.schema.categorical, data.schema.numeric
    as_text = {c: str for c in categorical}
    baseline = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), categorical),
                                (make_pipeline(SimpleImputer(), StandardScaler()), numeric)),
        LogisticRegression(max_iter=2000)).fit(train_x.astype(as_text), train.label_indices())
    probs = baseline.predict_proba(test_x.astype(as_text))
    labels = test.label_indices()
    if probs.shape[1] == 2:
        return float(roc_auc_score(labels, probs[:, 1]))
    return float(roc_auc_score(labels, probs, multi_class="ovr", labels=np.arange(probs.shape[1])))

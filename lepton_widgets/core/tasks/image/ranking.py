"""Backbone ranking before training: LogME and a linear probe on cached features of a small split.

For each candidate ``(backbone, weights)`` the frozen backbone's pooled features of a small seeded subset of
the train and val splits are computed once (and cached on disk, like training's, keyed by the rows and the
weights' identity), then scored two ways:

* **LogME** (You, Liu, Wang, Long: "LogME: Practical Assessment of Pre-trained Models for Transfer
  Learning", ICML 2021, arXiv:2102.11005): the log marginal evidence of a Bayesian linear model from the
  features to each one-hot label column, maximised over its prior precision ``alpha`` and noise precision
  ``beta`` by the paper's fixed-point iteration, averaged over classes and divided by the number of samples.
  Computed on the train subset; higher is better. No training, no hyper-parameters.
* **probe accuracy**: a multinomial logistic regression (scikit-learn) on the standardised top principal
  components of the train subset's features, accuracy on the val subset.

The recommendation takes the best mean rank of the two scores (ties: higher LogME). Candidates that cannot
load here (ImageNet weights offline, an unfinished run, ...) get a row with the reason instead of scores.
Random weights (``none``) are extracted with the config's seed and never cached: their features depend on it.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 3, 200)
    >>> informative = np.eye(3)[labels] + 0.1 * rng.normal(size=(200, 3))
    >>> noise = rng.normal(size=(200, 3))
    >>> bool(logme(informative, labels) > logme(noise, labels))
    True
"""

from __future__ import annotations

import time
from typing import Iterable, Optional

import numpy as np
import pandas as pd

from lepton_widgets.config import RunConfig
from lepton_widgets.core.data import PreparedData, SampleTable
from lepton_widgets.core.base.events import Progress
from lepton_widgets.core.base.job import Job

#: Columns of :func:`rank_backbones`' frame.
COLUMNS = ["backbone", "weights", "logme", "probe_accuracy", "seconds", "recommended", "status", "reason"]
#: Samples per class of the subsets scored (train, val): small enough for seconds per candidate on a CPU.
TRAIN_PER_CLASS, VAL_PER_CLASS = 40, 20
#: Principal components the probe keeps (see :func:`probe_accuracy`).
PROBE_DIMS = 64


def logme(features: np.ndarray, labels: np.ndarray, max_iter: int = 11, tol: float = 1e-2) -> float:
    """LogME score (You et al. 2021) of ``features`` (N, D) for integer class ``labels`` (N,).

    For each class ``k`` the one-hot column ``y`` gets the evidence of ``y = F w + noise``, ``w ~ N(0, 1/alpha)``,
    ``noise ~ N(0, 1/beta)``, at the ``alpha, beta`` found by the paper's fixed point (Algorithm 2)::

        gamma = sum_i beta s_i / (alpha + beta s_i)      (s: eigenvalues of F^T F)
        m     = beta A^-1 F^T y,  A = alpha I + beta F^T F
        alpha = gamma / |m|^2,    beta = (N - gamma) / |y - F m|^2

    Evidence / N = [D/2 log alpha + N/2 log beta - beta/2 |y - F m|^2 - alpha/2 |m|^2
    - 1/2 sum_i log(alpha + beta s_i) - N/2 log 2 pi] / N, averaged over the classes. One SVD of F serves
    every class; with N < D the D - N zero eigenvalues enter ``log |A|`` as ``(D - r) log alpha``.

    >>> rng = np.random.default_rng(1)
    >>> y = rng.integers(0, 2, 100)
    >>> round(float(logme(np.c_[y, 1 - y].astype(float) + 0.01 * rng.normal(size=(100, 2)), y)), 2) > 1.0
    True
    """
    f = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    n, d = f.shape
    # Non-zero spectrum of F^T F (s) and its eigenvectors (rows of vt), from the smaller Gram matrix.
    if n < d:
        s, u = np.linalg.eigh(f @ f.T)
        keep = s > s.max() * 1e-10
        s, u = s[keep], u[:, keep]
        vt = (u.T @ f) / np.sqrt(s)[:, None]
    else:
        s, v = np.linalg.eigh(f.T @ f)
        keep = s > s.max() * 1e-10
        s, vt = s[keep], v[:, keep].T
    rank_deficit = d - len(s)
    evidences = []
    for k in np.unique(labels):
        y = (labels == k).astype(np.float64)
        projected = vt @ (f.T @ y)      # F^T y in the eigenbasis; it has no part outside span(V)
        alpha, beta = 1.0, 1.0
        for _ in range(max_iter):
            gamma = float((beta * s / (alpha + beta * s)).sum())
            m_coef = beta * projected / (alpha + beta * s)
            m_norm2 = float((m_coef ** 2).sum())
            residual2 = float(((y - f @ (vt.T @ m_coef)) ** 2).sum())
            new_alpha = gamma / (m_norm2 + 1e-12)
            new_beta = (n - gamma) / (residual2 + 1e-12)
            converged = abs(new_alpha / new_beta - alpha / beta) / (alpha / beta) < tol
            alpha, beta = new_alpha, new_beta
            if converged:
                break
        m_coef = beta * projected / (alpha + beta * s)
        m_norm2 = float((m_coef ** 2).sum())
        residual2 = float(((y - f @ (vt.T @ m_coef)) ** 2).sum())
        log_det = float(np.log(alpha + beta * s).sum()) + rank_deficit * np.log(alpha)
        evidence = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - beta / 2 * residual2 - alpha / 2 * m_norm2
                    - log_det / 2 - n / 2 * np.log(2 * np.pi))
        evidences.append(evidence / n)
    return float(np.mean(evidences))


def probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray,
                   seed: int = 0) -> float:
    """Validation accuracy of a logistic regression fitted on the train features.

    The features are standardised and projected on at most :data:`PROBE_DIMS` principal components first:
    with a few hundred samples that loses little, and it makes the fit ten times faster on 1280-d features.
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    dims = min(PROBE_DIMS, train_x.shape[0], train_x.shape[1])
    probe = make_pipeline(StandardScaler(), PCA(dims, random_state=seed), StandardScaler(),
                          LogisticRegression(max_iter=500, C=0.5, random_state=seed))
    probe.fit(train_x, train_y)
    return float((probe.predict(val_x) == val_y).mean())


def parse_candidates(candidates: Iterable) -> list[tuple[str, str]]:
    """``"name:weights"`` strings or ``(name, weights)`` pairs -> pairs; ``"run:<ref>"`` alone gets an empty
    name: :func:`rank_backbones` takes the backbone family from that run's config.

    >>> parse_candidates(["mobilenet_v2:offline", ("small_cnn", "none"), "small_cnn:run:runs/abc", "run:x"])
    [('mobilenet_v2', 'offline'), ('small_cnn', 'none'), ('small_cnn', 'run:runs/abc'), ('', 'run:x')]
    """
    pairs = []
    for item in candidates:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            pairs.append((str(item[0]), str(item[1])))
            continue
        text = str(item).strip()
        if text.startswith("run:"):
            # The family is the source run's; rank_backbones looks it up, so a bad reference becomes an
            # "unavailable" row that says why, rather than stopping the whole ranking here.
            pairs.append(("", text))
            continue
        name, sep, weights = text.partition(":")
        if not sep or not name or not weights:
            raise ValueError(f"candidate {text!r} must be NAME:WEIGHTS, e.g. mobilenet_v2:offline or small_cnn:none")
        pairs.append((name, weights))
    if not pairs:
        raise ValueError("no candidates to rank; give NAME:WEIGHTS pairs such as mobilenet_v2:offline")
    return pairs


def default_candidates(image_size: int) -> list[tuple[str, str]]:
    """The pretrained weights usable offline (every backbone with an ``offline`` pack that fits the image
    size) plus ``small_cnn`` from scratch as the baseline. ``none`` weights of the big backbones are left out:
    they are slow to extract and rarely worth training from scratch on small data."""
    from lepton_widgets.core.backbones import list_backbones

    pairs = [(spec.name, "offline") for spec in list_backbones()
             if "offline" in spec.weight_sources and spec.min_size <= image_size <= spec.max_size]
    return pairs + [("small_cnn", "none")]


def subsample(table: SampleTable, per_class: int, seed: int) -> SampleTable:
    """Up to ``per_class`` rows of each class, chosen with ``seed``, in the table's order."""
    rng = np.random.default_rng(seed)
    keep = []
    for _, rows in table.frame.groupby("label", sort=False):
        index = rows.index.to_numpy()
        keep.extend(rng.choice(index, size=min(per_class, len(index)), replace=False).tolist())
    frame = table.frame.loc[sorted(keep)].reset_index(drop=True)
    return SampleTable(frame, table.class_names, table.arrays, table.modality, table.source)


def ranking_subsets(cfg: RunConfig, data: PreparedData, train_per_class: int = TRAIN_PER_CLASS,
                    val_per_class: int = VAL_PER_CLASS) -> dict[str, SampleTable]:
    """The seeded train and val subsets every candidate is scored on."""
    return {"train": subsample(data.split("train"), train_per_class, cfg.seed),
            "val": subsample(data.split("val"), val_per_class, cfg.seed + 1)}


def candidate_features(cfg: RunConfig, tables: dict[str, SampleTable], num_classes: int,
                       job: Optional[Job] = None) -> dict[str, np.ndarray]:
    """Pooled features of each table through ``cfg``'s frozen backbone (disk-cached unless random weights)."""
    from lepton_widgets.core.tasks.image.feature_cache import ExtractorOnDemand, cached_split_features, extract_features
    from lepton_widgets.core.tasks.image.training import seed_everything

    size, batch = cfg.backbone.image_size, cfg.train.batch_size
    cfg = cfg.replace(backbone__frozen_depth=None, augment__flip="none", augment__rotation=0.0, augment__zoom=0.0,
                      augment__translation=0.0, augment__contrast=0.0, augment__brightness=0.0)
    if cfg.backbone.weights == "none":  # a function of the seed: never cached (the cache key has no seed)
        seed_everything(cfg.seed)
        from lepton_widgets.core.tasks.image.model import build_transfer_model

        extractor = build_transfer_model(cfg, num_classes).feature_extractor()
        return {name: extract_features(extractor, table, size, batch, job,
                                       task=f"extract features ({name})") for name, table in tables.items()}
    features, _hit = cached_split_features(ExtractorOnDemand(cfg, num_classes), tables, cfg.backbone.weights,
                                           size, batch, job)
    return {name: np.asarray(array) for name, array in features.items()}


def features_cached(cfg: RunConfig, pairs: Iterable, data: PreparedData, *, train_per_class: int = TRAIN_PER_CLASS,
                    val_per_class: int = VAL_PER_CLASS) -> list[bool]:
    """For each ``(name, weights)`` pair, whether :func:`rank_backbones` would find the features of its subset
    on disk (random weights: never; they are computed anew, cheaply). A cold candidate builds its backbone
    (converting offline weights the first time) and extracts: seconds each on 2 cores. A pair this cannot
    tell about (a run's backbone, weights that are not installed) counts as cold."""
    from lepton_widgets.core.backbones import WeightsUnavailable, get_backbone
    from lepton_widgets.core.tasks.image.feature_cache import feature_cache_path

    tables = ranking_subsets(cfg, data, train_per_class, val_per_class).values()
    size = cfg.backbone.image_size

    def cached(name: str, weights: str) -> bool:
        if not name or weights == "none":
            return False
        try:
            return all(feature_cache_path(get_backbone(name), table, weights, size).exists() for table in tables)
        except (WeightsUnavailable, ValueError, KeyError):
            return False

    return [cached(name, weights) for name, weights in pairs]


def rank_backbones(cfg: RunConfig, candidates: Optional[Iterable] = None, *, data: Optional[PreparedData] = None,
                   train_per_class: int = TRAIN_PER_CLASS, val_per_class: int = VAL_PER_CLASS,
                   job: Optional[Job] = None) -> pd.DataFrame:
    """Score each candidate backbone on ``cfg``'s data; one row each, best first (see :data:`COLUMNS`).

    ``candidates``: ``"name:weights"`` strings or pairs (default: :func:`default_candidates`); every one is
    scored at ``cfg.backbone.image_size``. ``data`` reuses already prepared data. Emits ``Progress`` events
    (task ``rank backbones``, one step per candidate, plus the feature extraction's own) to ``job``; its stop
    request stops between candidates and between extraction batches (``events.Cancelled``).
    """
    from lepton_widgets.core.backbones import WeightsUnavailable, availability, get_backbone
    from lepton_widgets.core.data import prepare_data

    cfg.validate()
    job = job or Job()
    size = cfg.backbone.image_size
    pairs = parse_candidates(candidates) if candidates is not None else default_candidates(size)
    data = data if data is not None else prepare_data(cfg.data, cfg.seed, job=job)
    tables = ranking_subsets(cfg, data, train_per_class, val_per_class)
    labels = {name: table.label_indices() for name, table in tables.items()}

    rows = []
    job.emit(Progress(task="rank backbones", done=0, total=len(pairs)))
    for index, (name, weights) in enumerate(pairs):
        job.check_stop()
        start = time.perf_counter()
        row = {"backbone": name, "weights": weights, "logme": np.nan, "probe_accuracy": np.nan, "seconds": np.nan,
               "recommended": False, "status": "ok", "reason": ""}
        try:
            if not name:  # a "run:<id>" candidate: the backbone family of that run
                from lepton_widgets.core.backbones.run_backbone import resolve_run, source_backbone_name

                name = row["backbone"] = source_backbone_name(resolve_run(weights))
            spec = get_backbone(name)
            if not spec.min_size <= size <= spec.max_size:
                raise WeightsUnavailable(f"{name} needs image_size in [{spec.min_size}, {spec.max_size}], got {size}")
            ok, reason = availability(spec, weights, size)
            if not ok:
                raise WeightsUnavailable(reason)
            candidate = cfg.replace(backbone__name=name, backbone__weights=weights)
            features = candidate_features(candidate, tables, data.num_classes, job)
            row["logme"] = logme(features["train"], labels["train"])
            row["probe_accuracy"] = probe_accuracy(features["train"], labels["train"], features["val"],
                                                   labels["val"], seed=cfg.seed)
        except (WeightsUnavailable, ValueError) as error:
            row.update(status="unavailable", reason=str(error))
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        job.emit(Progress(task="rank backbones", done=index + 1, total=len(pairs)))
    return recommend(pd.DataFrame(rows, columns=COLUMNS))


def recommend(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort scored rows best first (mean rank of LogME and probe accuracy; ties: LogME), mark the first as
    ``recommended``; unavailable rows go last."""
    frame = frame.copy()
    scored = frame["status"] == "ok"
    mean_rank = (frame.loc[scored, "logme"].rank(ascending=False)
                 + frame.loc[scored, "probe_accuracy"].rank(ascending=False)) / 2
    frame["rank_score"] = np.nan
    frame.loc[scored, "rank_score"] = mean_rank
    frame = frame.sort_values(["rank_score", "logme"], ascending=[True, False], na_position="last",
                              kind="mergesort").reset_index(drop=True)
    frame["recommended"] = False
    if scored.any():
        frame.loc[0, "recommended"] = True
    return frame.drop(columns="rank_score")


__all__ = ["logme", "probe_accuracy", "rank_backbones", "recommend", "parse_candidates", "default_candidates",
           "subsample", "candidate_features", "COLUMNS"]

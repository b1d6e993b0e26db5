"""Robustness of a text run: test accuracy when part of each text's words is swapped for a GloVe neighbour.

The text twin of the pictures' FGSM/PGD curve (:mod:`lepton_widgets.core.tasks.image.adversarial`), and it
returns the same :class:`~lepton_widgets.core.tasks.image.adversarial.RobustnessCurve`: its ``epsilons`` are
substitution rates here, so the API, the CLI and the robustness chart show either kind.

What the attack may change, and how (both attacks share it, so they differ only in the neighbour chosen):

* a word is **substitutable** when GloVe gives it neighbours (:func:`~.glove.neighbours_for`: content words
  GloVe knows, not its most frequent function words, no numbers); the others are never touched;
* at rate ``r`` a text of ``n`` words gets ``round(r * n)`` substitutions, capped by its substitutable words
  (the curve records the fraction of words really changed, ``extra["changed_fraction"]``);
* which words: a seeded random order of the text's substitutable words, drawn once per text from
  ``(seed, row)``; rate ``r`` changes the first ``round(r * n)`` of them, so the words changed at a lower rate
  are also changed at every higher rate (the curve compares nested attacks, not independent draws);
* a substitute keeps the word's punctuation and capital (``augment._substituted``) and the text keeps its
  number of words.

Attacks (``method``):

* ``random``: each chosen word becomes one of its :data:`NEIGHBOURS` nearest neighbours, drawn (seeded). A
  black-box, model-blind attack: what careless rewording does.
* ``greedy``: the words are taken in the same order, and each becomes the neighbour that most lowers the
  model's probability of the true class, given the words already changed. One batched prediction per step
  for every text and neighbour; a stronger, model-aware attack (it needs only the model's probabilities).

GloVe neighbours include opposites ("good" -> "bad"): a substitute may truly change what a text says, so a
lower accuracy partly measures meaning that changed, not only fragility. The curve names that caveat.

Example (needs a trained text run; tests/test_text_robustness.py runs it)::

    curve = text_robustness_curve(record, rates=(0, 0.1, 0.2, 0.4), method="greedy")
    curve.epsilons, curve.accuracy        # [0.0, 0.1, 0.2, 0.4], e.g. [0.693, 0.473, 0.327, 0.067]

Cost: ``random`` predicts each text once per rate. ``greedy`` predicts up to :data:`NEIGHBOURS` variants of
every text per substituted word: seconds for a GloVe run, minutes for MiniLM on CPUs (about 200 s for 24
reviews here), so keep ``max_samples`` small there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Optional

import numpy as np

from lepton_widgets.core.base.levels import parse_levels
from lepton_widgets.core.base.events import Progress
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.image.adversarial import RobustnessCurve
from lepton_widgets.core.tasks.text.augment import _WORD_PARTS, _substituted
from lepton_widgets.core.tasks.text.glove import word_key

ATTACKS = ("random", "greedy")
DEFAULT_RATES = (0.0, 0.1, 0.2, 0.4)
#: Neighbours per word the attacks choose from (the augmentation's table uses the same number).
NEIGHBOURS = 5
PREDICT_BATCH = 256


def parse_rates(text: str | Sequence[float]) -> list[float]:
    """Rates from ``"0, 0.1, 0.2"`` (or a sequence), sorted, without repeats; ValueError in plain words."""
    return parse_levels(text, noun="substitution rate", example="0, 0.1, 0.2, 0.4",
                        meaning="fractions of each text's words between 0 and 1",
                        hint="it is the fraction of each text's words replaced by a neighbour")


def substitution_count(n_words: int, n_substitutable: int, rate: float) -> int:
    """How many words a text of ``n_words`` loses to substitutes at ``rate`` (half rounds up)."""
    return min(n_substitutable, int(math.floor(rate * n_words + 0.5)))


class TextAttack:
    """One text's attack plan: its words, the seeded order of its substitutable words and a random pick each.

    >>> plan = TextAttack("The tea was tasty!", {"tea": ["coffee"], "tasty": ["delicious"]}, seed=0, index=0)
    >>> plan.substitutable, plan.text_at(1.0, plan.random_picks())
    (2, 'The coffee was delicious!')
    """

    def __init__(self, text: str, neighbours: Mapping[str, Sequence[str]], *, seed: int, index: int) -> None:
        self.words = text.split()
        self.neighbours = neighbours
        positions = [i for i, word in enumerate(self.words) if self.options(word)]
        rng = np.random.default_rng((int(seed), int(index), 7))  # 7: apart from augmentation's (seed, epoch, index)
        self.order = [positions[i] for i in rng.permutation(len(positions))]
        self._picks = rng.integers(0, 1 << 30, len(self.order))

    @property
    def substitutable(self) -> int:
        return len(self.order)

    def options(self, word: str) -> list[str]:
        """The neighbours of ``word``'s core (without its punctuation); empty when it is never substituted."""
        core = _WORD_PARTS.match(word).group(2)
        return list(self.neighbours.get(word_key(core), ())) if core else []

    def count(self, rate: float) -> int:
        return substitution_count(len(self.words), self.substitutable, rate)

    def random_picks(self) -> list[int]:
        """The seeded neighbour choice for each word of :attr:`order` (an index into its options)."""
        return [int(pick) % len(self.options(self.words[p])) for p, pick in zip(self.order, self._picks)]

    def text_at(self, rate: float, picks: Sequence[int]) -> str:
        """The text with its first ``count(rate)`` ordered words replaced by option ``picks[j]``."""
        words = list(self.words)
        for j in range(self.count(rate)):
            p = self.order[j]
            words[p] = self.substitute(p, picks[j])
        return " ".join(words)

    def substitute(self, position: int, pick: int) -> str:
        word = self.words[position]
        core = _WORD_PARTS.match(word).group(2)
        return _substituted(word, {word_key(core): self.options(word)}, pick)


def _greedy_picks(plans: list[TextAttack], labels: np.ndarray, steps: Sequence[int], predict, job: Job,
                  task: str) -> list[list[int]]:
    """Per text, the neighbour (option index) that most lowers the true class's probability, word by word in
    the plan's order, each given the words chosen before it; ``steps[i]`` words for text ``i``."""
    picks: list[list[int]] = [[] for _ in plans]
    current = [list(plan.words) for plan in plans]
    total = max(steps, default=0)
    for step in range(total):
        job.check_stop()
        variants, owners = [], []
        for i, plan in enumerate(plans):
            if step >= steps[i]:
                continue
            p = plan.order[step]
            for k in range(len(plan.options(plan.words[p]))):
                words = list(current[i])
                words[p] = plan.substitute(p, k)
                variants.append(" ".join(words))
                owners.append((i, k))
        probabilities = predict(variants)
        best: dict[int, tuple[float, int]] = {}
        for (i, k), row in zip(owners, probabilities):
            true_p = float(row[labels[i]])
            if i not in best or true_p < best[i][0]:
                best[i] = (true_p, k)
        for i, (_, k) in best.items():
            p = plans[i].order[step]
            current[i][p] = plans[i].substitute(p, k)
            picks[i].append(k)
        job.emit(Progress(run_id=job.run_id, task=task, done=step + 1, total=total))
    return picks


def _check_method(method: str) -> None:
    if method not in ATTACKS:
        raise ValueError(f"{method!r} is not a text attack: texts are attacked by swapping words for GloVe "
                         f"neighbours, method {' or '.join(repr(a) for a in ATTACKS)} (FGSM and PGD move picture pixels)")


def attack_texts(texts: Sequence[str], labels: Sequence[int], predict, *, rates: Sequence[float] = DEFAULT_RATES,
                 method: str = "random", neighbours: Optional[Mapping[str, Sequence[str]]] = None, seed: int = 0,
                 job: Optional[Job] = None) -> tuple[list[TextAttack], dict[float, list[str]]]:
    """The plans and ``{rate: attacked texts}`` of ``method`` on ``texts`` (``predict``: texts -> class
    probabilities, used by ``greedy`` only; ``labels``: true class indices). ``neighbours`` defaults to the
    GloVe neighbours of the texts' words (:data:`NEIGHBOURS` each)."""
    _check_method(method)
    rates = parse_rates(rates)
    job = Job.of(job)
    labels = np.asarray(labels, np.int64)
    if len(texts) == 0 or len(texts) != len(labels):
        raise ValueError(f"no texts to attack ({len(texts)} texts, {len(labels)} labels)")
    if neighbours is None:
        from lepton_widgets.core.tasks.text.glove import neighbours_for

        neighbours = neighbours_for(texts, k=NEIGHBOURS)
    plans = [TextAttack(text, neighbours, seed=seed, index=i) for i, text in enumerate(texts)]
    if method == "greedy":
        picks = _greedy_picks(plans, labels, [plan.count(max(rates)) for plan in plans], predict, job,
                              f"robustness ({method} word substitution)")
    else:
        picks = [plan.random_picks() for plan in plans]
    return plans, {rate: [plan.text_at(rate, pick) for plan, pick in zip(plans, picks)] for rate in rates}


def attack_curve(texts: Sequence[str], labels: Sequence[int], predict, *, rates: Sequence[float] = DEFAULT_RATES,
                 method: str = "random", neighbours: Optional[Mapping[str, Sequence[str]]] = None, seed: int = 0,
                 job: Optional[Job] = None) -> RobustnessCurve:
    """Accuracy of ``predict`` (texts -> class probabilities) on ``texts`` under ``method`` at each rate
    (:func:`attack_texts`); ``Progress`` events, and ``Cancelled`` between steps when ``job`` is stopped."""
    job = Job.of(job)
    labels = np.asarray(labels, np.int64)
    plans, attacked = attack_texts(texts, labels, predict, rates=rates, method=method, neighbours=neighbours,
                                   seed=seed, job=job)
    task = f"robustness ({method} word substitution)"
    accuracy, changed = [], []
    for done, (rate, variants) in enumerate(attacked.items()):
        job.check_stop()
        predicted = np.asarray(predict(variants)).argmax(axis=1)
        accuracy.append(float(np.mean(predicted == labels)))
        changed.append(float(np.mean([plan.count(rate) / max(1, len(plan.words)) for plan in plans])))
        job.emit(Progress(run_id=job.run_id, task=task, done=done + 1, total=len(attacked)))
    return RobustnessCurve(method=method, epsilons=list(attacked), accuracy=accuracy, n=len(texts), extra={
        "attack": "word substitution by GloVe neighbours", "level": "substitution rate (fraction of each text's "
        "words)", "neighbours": NEIGHBOURS, "seed": int(seed), "changed_fraction": changed,
        "substitutable_fraction": float(np.mean([p.substitutable / max(1, len(p.words)) for p in plans])),
        "caveat": "GloVe neighbours can be opposites (good -> bad): a substitute may change what a text says"})


# --- stored runs ----------------------------------------------------------------------------------


def run_test_texts(record) -> tuple[list[str], np.ndarray]:
    """A text run's test texts and true class indices, the rows of its ``predictions.csv`` (what was
    evaluated), reloaded and matched by reference from the run's own data config."""
    from lepton_widgets.core.tasks.text.data import prepare_texts

    data = prepare_texts(record.config.data, record.config.seed)
    by_ref = {str(ref): data.texts[int(i)] for ref, i in zip(data.prepared.table.frame["ref"],
                                                               data.prepared.table.frame["array_index"])}
    predictions = record.predictions
    refs = predictions["ref"].astype(str).tolist()
    missing = [ref for ref in refs if ref not in by_ref]
    if missing:
        raise ValueError(f"{len(missing)} test texts of run {record.run_id} are no longer in its data (e.g. "
                         f"{missing[0]!r}), so they cannot be attacked; the data changed since it was trained")
    names = [str(name) for name in record.class_names]
    labels = np.array([names.index(str(label)) for label in predictions["true"]], np.int64)
    return [by_ref[ref] for ref in refs], labels


def run_predictor(record):
    """``texts -> probabilities`` for a stored text run (MiniLM tokenises, a GloVe model reads strings)."""
    from lepton_widgets.core.tasks.text.encoder import tokenize
    from lepton_widgets.core.tasks.text.predict import load_text_run

    model, tokenizer, length = load_text_run(record)

    def predict(texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(record.class_names)), np.float32)
        if tokenizer is None:
            import tensorflow as tf

            inputs = tf.constant(list(texts), dtype=tf.string)
        else:
            inputs, _ = tokenize(tokenizer, list(texts), length)
            # A word past the sequence length changes no token: such greedy variants are one input, run once.
            rows = np.concatenate([inputs[key] for key in sorted(inputs)], axis=1)
            _, first, back = np.unique(rows, axis=0, return_index=True, return_inverse=True)
            if len(first) < len(texts):
                return predict([texts[i] for i in first])[np.ravel(back)]
        # predict_on_batch per chunk: model.predict builds a tf.data pipeline per call, which costs more than
        # the GloVe model itself when the greedy attack predicts a few texts per step. Each chunk is padded
        # to a power of two (its last row repeated), so a few batch shapes are traced, not one per step.
        out = []
        for start in range(0, len(texts), PREDICT_BATCH):
            n = min(PREDICT_BATCH, len(texts) - start)
            rows = np.minimum(np.arange(start, start + _bucket(n)), start + n - 1)
            out.append(np.asarray(model.predict_on_batch(_rows(inputs, rows)))[:n])
        return np.concatenate(out)

    return predict


def _bucket(n: int) -> int:
    return max(8, 1 << (n - 1).bit_length())


def _rows(inputs, rows: np.ndarray):
    if isinstance(inputs, dict):
        return {key: np.asarray(value)[rows] for key, value in inputs.items()}
    import tensorflow as tf

    return tf.gather(inputs, rows)


def text_robustness_curve(record, *, rates: Sequence[float] | str | None = None, method: Optional[str] = None,
                          max_samples: Optional[int] = None, job: Optional[Job] = None) -> RobustnessCurve:
    """The robustness curve of a stored text run on its test texts (a seeded subset of ``max_samples``)."""
    method = method or "random"
    _check_method(method)  # before the data and the model load
    rates = parse_rates(DEFAULT_RATES if rates is None else rates)
    texts, labels = run_test_texts(record)
    seed = int(record.config.seed)
    if max_samples is not None and len(texts) > max_samples:
        # a seeded subset in the split's order: the first rows can be one class only
        rows = np.sort(np.random.default_rng(seed).choice(len(texts), size=int(max_samples), replace=False))
        texts, labels = [texts[i] for i in rows], labels[rows]
    job = Job.of(job, run_id=record.run_id)
    return attack_curve(texts, labels, run_predictor(record), rates=rates, method=method, seed=seed, job=job)

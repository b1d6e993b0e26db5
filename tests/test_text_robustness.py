"""Robustness for texts: test accuracy of a real GloVe run when a seeded fraction of each test review's words
is swapped for a GloVe neighbour (random and greedy), through the API and the task; tables are refused.

Measured here (food reviews, 150 test reviews, seed 7; rates 0, 0.1, 0.2, 0.4): random 0.693, 0.653, 0.640,
0.647; greedy 0.693, 0.473, 0.327, 0.067. About 15 s in all.
"""

from __future__ import annotations

import threading

import pytest

from lepton_widgets import api
from lepton_widgets.config import RunConfig
from lepton_widgets.core.base.events import Cancelled, ListSink, Progress
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.core.tasks import task_for_run
from lepton_widgets.core.tasks.image.adversarial import RobustnessCurve
from lepton_widgets.core.tasks.text import run_text_experiment
from lepton_widgets.core.tasks.text.glove import GLOVE_BACKBONE, neighbours_for, word_key
from lepton_widgets.core.tasks.text.robustness import (
    TextAttack,
    attack_texts,
    parse_rates,
    run_predictor,
    run_test_texts,
)

#: tests/test_text_glove.py's fast GloVe config (about 5 s to train, test accuracy 0.69 against 0.50 majority).
GLOVE = {"name": "glove", "seed": 7,
         "data": {"dataset": "food_reviews", "max_per_class": 300, "test_fraction": 0.25},
         "backbone": {"name": GLOVE_BACKBONE, "sequence_length": 96},
         "train": {"epochs": 25, "learning_rate": 3e-3, "batch_size": 32, "early_stopping_patience": 5}}
RATES = "0, 0.1, 0.2, 0.4"
#: How far accuracy may rise from one rate to the next (3 of 150 reviews): a random attack at a higher rate
#: changes more words of each text, but a swap can also fix a wrong prediction.
TOLERANCE = 0.02


@pytest.fixture(scope="module")
def glove_run(tmp_path_factory):
    return run_text_experiment(RunConfig.from_dict(GLOVE), store=RunStore(tmp_path_factory.mktemp("runs")))


def test_the_curve_falls_as_the_substitution_rate_rises(glove_run):
    sink = ListSink()
    random = api.robustness(glove_run, method="random", epsilons=RATES, max_samples=None, sink=sink)
    greedy = api.robustness(glove_run, method="greedy", epsilons=RATES, max_samples=None)
    print(f"random {random.accuracy}, greedy {greedy.accuracy}, n {random.n}")
    assert isinstance(random, RobustnessCurve) and random.epsilons == [0.0, 0.1, 0.2, 0.4]
    assert random.n == greedy.n == len(glove_run.predictions)
    # rate 0 is the run's own test accuracy: the same texts, the same saved model
    assert random.clean_accuracy == greedy.clean_accuracy == pytest.approx(glove_run.metrics["accuracy"], abs=1e-9)
    assert random.accuracy[-1] < random.accuracy[0]
    assert all(b <= a + TOLERANCE for a, b in zip(random.accuracy, random.accuracy[1:]))
    assert all(b < a for a, b in zip(greedy.accuracy, greedy.accuracy[1:]))  # greedy: strictly at every step
    assert greedy.accuracy[-1] < random.accuracy[-1] - 0.2  # the model-aware attack is much stronger
    assert random.extra["changed_fraction"][0] == 0 and 0.35 < random.extra["changed_fraction"][-1] <= 0.4 + 0.01
    again = api.robustness(glove_run, method="random", epsilons=RATES, max_samples=None)
    assert again.accuracy == random.accuracy  # seeded
    progress = [e for e in sink.events if isinstance(e, Progress)]
    assert progress and progress[-1].done == progress[-1].total == 4 and progress[-1].run_id == glove_run.run_id
    assert RobustnessCurve.from_dict(random.to_dict()).accuracy == random.accuracy  # what the chart reads


def test_the_attack_changes_only_words_with_neighbours_and_keeps_the_length(glove_run):
    texts, labels = run_test_texts(glove_run)
    texts, labels = texts[:40], labels[:40]
    neighbours = neighbours_for(texts, k=5)
    for method in ("random", "greedy"):
        plans, attacked = attack_texts(texts, labels, run_predictor(glove_run), rates=parse_rates(RATES),
                                       method=method, neighbours=neighbours, seed=3)
        assert attacked[0.0] == [" ".join(t.split()) for t in texts]
        changed_at = {}
        for rate, variants in attacked.items():
            changed_at[rate] = []
            for plan, text, variant in zip(plans, texts, variants):
                before, after = text.split(), variant.split()
                assert len(after) == len(before)
                changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
                assert len(changed) == plan.count(rate) == min(plan.substitutable, int(rate * len(before) + 0.5))
                for i in changed:
                    assert word_key(after[i]) in neighbours[word_key(before[i])]
                changed_at[rate].append(set(changed))
        # words changed at a lower rate are changed at every higher one (nested attacks)
        assert all(low <= high for low, high in zip(changed_at[0.1], changed_at[0.4]))
        assert sum(map(len, changed_at[0.4])) > sum(map(len, changed_at[0.1])) > 0


def test_words_without_neighbours_are_never_touched():
    plan = TextAttack("The tea, 100 qwzxqq was Tasty!", {"tea": ["coffee"], "tasty": ["delicious"]}, seed=0, index=0)
    assert plan.substitutable == 2 and plan.count(1.0) == 2 and plan.count(0.1) == 1  # 0.1 * 6 words rounds to 1
    assert plan.text_at(1.0, plan.random_picks()) == "The coffee, 100 qwzxqq was Delicious!"
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        parse_rates("0, 1.5")


def test_the_task_takes_a_job_and_stops_when_asked(glove_run):
    task = task_for_run(glove_run)
    assert task.supports("robustness")
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        task.robustness_curve(glove_run, method="greedy", levels=[0, 0.2], job=Job(stop_event=stop))
    curve = task.robustness_curve(glove_run, levels=[0, 0.4], max_samples=50, job=Job(run_id="mine"))
    assert curve.method == "random" and curve.n == 50 and curve.epsilons == [0.0, 0.4]
    with pytest.raises(ValueError, match="'fgsm' is not a text attack.*'random' or 'greedy'"):
        api.robustness(glove_run, method="fgsm")


def test_a_table_run_is_refused_with_a_plain_sentence(tmp_path):
    record = api.train({"name": "credit", "seed": 1, "data": {"dataset": "german_credit", "max_per_class": 60},
                        "train": {"epochs": 1, "batch_size": 32}}, runs_dir=tmp_path)
    assert not task_for_run(record).supports("robustness")
    with pytest.raises(ValueError, match=f"^Robustness of run {record.run_id}: The robustness check is available "
                                         "for pictures and sounds and texts; this run was trained on tables.$"):
        api.robustness(record, max_samples=5)

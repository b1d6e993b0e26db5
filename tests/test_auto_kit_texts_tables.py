"""Lepton Auto's kits for texts and tables (``core/tasks/text/auto.py``, ``core/tasks/tabular/auto.py``), on
real data with real training: a small CSV of texts on three topics (GloVe; MiniLM is only checked to be a
candidate, it takes minutes) and German Credit at 60 loans a class.

Each kit must give the doctor frozen features of the train and val rows only (ids matching the prepared
rows), rank its candidates best first, and return configs that train: the head config beats chance as an
ordinary run, the search config runs two trials, the fine-tune config validates.
"""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest

from lepton_widgets.config import DataConfig, RunConfig
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.core.search.tuner import run_search
from lepton_widgets.core.tasks import run_experiment, task_named
from lepton_widgets.core.tasks.autokit import AutoKit, Candidate, recipe_for
from lepton_widgets.core.tasks.text.glove import GLOVE_BACKBONE

RANK_COLUMNS = ["label", "score", "probe_accuracy", "logme", "seconds", "status", "reason", "index"]
#: Three topics, written from words GloVe knows; each text draws a subject, a verb phrase and a detail.
TOPICS = {
    "sport": (["The striker", "Our goalkeeper", "The home team", "The coach", "The tennis player", "The runner"],
              ["scored twice in the final", "won the match after extra time", "trained hard before the season",
               "lost the championship game", "signed a new contract with the club", "broke the league record"],
              ["and the fans cheered in the stadium", "despite an injury to his knee", "in front of a huge crowd",
               "while the referee watched closely", "during the second half", "to win the cup"]),
    "cooking": (["The chef", "My grandmother", "The baker", "Our cook", "The restaurant", "The waiter"],
                ["simmered the tomato soup slowly", "baked fresh bread with butter", "roasted the chicken with garlic",
                 "chopped onions and peppers", "served pasta with cheese", "whisked eggs with sugar and flour"],
                ["then added salt and pepper", "in a hot oven for an hour", "with olive oil and herbs",
                 "before the dinner guests arrived", "and tasted the sauce", "for a delicious dessert"]),
    "weather": (["The forecast", "This morning", "The storm", "Heavy clouds", "The wind", "Last night"],
                ["brought heavy rain and thunder", "warned of snow in the mountains", "turned cold and windy",
                 "left the streets flooded", "promised sunshine and warm temperatures", "dropped below freezing"],
                ["across the northern coast", "with strong gusts from the west", "and fog covered the valley",
                 "until the weekend", "as the hurricane moved inland", "with humid air in the afternoon"]),
}
PER_TOPIC = 40


def write_topics(path, per_topic: int = PER_TOPIC, seed: int = 0) -> None:
    """``per_topic`` distinct texts a topic (a seeded draw of subject, verb phrase and detail)."""
    rng = np.random.default_rng(seed)
    rows = []
    for label, (subjects, verbs, details) in TOPICS.items():
        combos = [(s, v, d) for s in subjects for v in verbs for d in details]
        for i in rng.choice(len(combos), per_topic, replace=False):
            subject, verb, detail = combos[i]
            rows.append({"text": f"{subject} {verb} {detail}.", "label": label})
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("auto-texts")
    write_topics(folder / "topics.csv")
    kit = task_named("text").auto_kit()
    data_cfg = DataConfig(dataset="text_csv", path=str(folder / "topics.csv"), max_per_class=None)
    cfg = kit.base_config(data_cfg, seed=3, goal="fast").replace(backbone__sequence_length=32)
    prepared = kit.prepare(cfg)
    return {"kit": kit, "cfg": cfg, "prepared": prepared, "folder": folder}


@pytest.fixture(scope="module")
def credit():
    kit = task_named("tabular").auto_kit()
    cfg = kit.base_config(DataConfig(dataset="german_credit", max_per_class=60), seed=0, goal="accuracy")
    prepared = kit.prepare(cfg)
    return {"kit": kit, "cfg": cfg, "prepared": prepared}


def _train_val_ids(prepared) -> list[str]:
    return [h for name in ("train", "val") for h in prepared.split(name).frame["sha256"]]


# --- texts ------------------------------------------------------------------------------------------------------
def test_texts_and_tables_offer_auto_with_their_own_kits():
    for name in ("text", "tabular"):
        task = task_named(name)
        assert task.supports("auto") and task.refusal("auto") is None
        assert isinstance(task.auto_kit(), AutoKit) and type(task.auto_kit()) is not AutoKit


def test_the_text_recipe_is_glove_and_minilm_is_a_candidate_only_for_accuracy(texts):
    kit, cfg = texts["kit"], texts["cfg"]
    base = kit.base_config(DataConfig(dataset="food_reviews"), seed=0, goal="accuracy")
    assert (base.backbone.name, base.backbone.frozen_depth, base.backbone.sequence_length) == (GLOVE_BACKBONE, 0, 200)
    accurate = kit.candidates(cfg, "accuracy")
    assert [c.config.backbone.name for c in accurate] == [GLOVE_BACKBONE, "all_minilm_l6_v2"]
    assert all(isinstance(c, Candidate) and c.label and c.about for c in accurate)
    for goal in ("fast", "small"):
        assert [c.config.backbone.name for c in kit.candidates(cfg, goal)] == [GLOVE_BACKBONE]
    assert kit.selection_metric == kit.selection_metric_for(["a", "b"]) == "accuracy"


def test_text_features_are_the_train_and_val_embeddings_named_by_their_ids(texts):
    kit, cfg, prepared = texts["kit"], texts["cfg"], texts["prepared"]
    features = kit.features(cfg, prepared)
    n_train, n_val = len(prepared.split("train")), len(prepared.split("val"))
    assert features.x.shape == (n_train + n_val, 50) and np.isfinite(features.x).all()
    assert features.ids == _train_val_ids(prepared)
    assert not set(features.ids) & set(prepared.split("test").frame["sha256"])
    assert list(features.split).count("train") == n_train and list(features.split).count("val") == n_val
    assert features.class_names == prepared.class_names and len(features.y) == len(features.ids)
    assert all(0 < len(ref) <= 120 for ref in features.refs)
    assert features.refs[0].split()[0] in {"The", "Our", "My", "This", "Heavy", "Last"}
    # a fresh kit (no prepare) reads the same texts back from the config
    again = task_named("text").auto_kit().features(cfg, prepared)
    assert again.ids == features.ids and np.allclose(again.x, features.x, atol=1e-5)


def write_word_topics(path, per_topic: int = 100, seed: int = 0) -> None:
    """Texts of 4 words drawn from 400 words near ``football``, ``cooking`` or ``weather`` (words in two
    topics left out): a validation text shares few words with the training texts, so only an encoder that
    knows what words mean (pretrained GloVe, not random vectors) tells the topics apart."""
    from lepton_widgets.core.tasks.text.glove import load_glove, nearest_neighbours

    pools = nearest_neighbours(load_glove(), ["football", "cooking", "weather"], k=400)
    seen: dict[str, int] = {}
    for words in pools.values():
        for word in words:
            seen[word] = seen.get(word, 0) + 1
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for label, words in pools.items():
            own = [w for w in words if seen[w] == 1]
            writer.writerows([" ".join(rng.choice(own, 4, replace=False)), label] for _ in range(per_topic))


def test_text_ranking_puts_the_encoder_with_the_better_probe_first(texts):
    kit = task_named("text").auto_kit()
    write_word_topics(texts["folder"] / "words.csv")
    data_cfg = DataConfig(dataset="text_csv", path=str(texts["folder"] / "words.csv"), max_per_class=None)
    cfg = kit.base_config(data_cfg, seed=1, goal="fast").replace(backbone__sequence_length=16)
    prepared = kit.prepare(cfg)
    pretrained = kit.candidates(cfg, "fast")[0]
    random_words = Candidate(pretrained.config.replace(backbone__weights="none"), "GloVe layout, random vectors")
    frame = kit.rank(cfg, [random_words, pretrained], prepared)
    print(frame[["label", "score", "logme", "seconds"]].to_string())
    assert list(frame.columns) == RANK_COLUMNS and (frame["status"] == "ok").all()
    assert list(frame["index"]) == [1, 0] and list(frame["label"]) == [pretrained.label, random_words.label]
    assert (frame["score"] == frame["probe_accuracy"]).all()
    best, worst = frame["score"]
    assert best > 0.8 and best - worst > 0.2  # chance is 1/3


@pytest.mark.slow
def test_the_text_head_config_trains_a_frozen_glove_head_above_chance(texts, tmp_path):
    kit, cfg = texts["kit"], texts["cfg"]
    counts = texts["prepared"].split("train").frame["label"].value_counts().to_dict()
    head = kit.head_config(cfg, recipe_for(counts))
    assert head.backbone.frozen_depth is None and head.train.epochs >= cfg.train.epochs
    record = run_experiment(head, store=RunStore(tmp_path / "runs"))
    print("text head test accuracy", record.metrics["accuracy"])
    assert record.status == "finished" and record.metrics["accuracy"] > 0.6


@pytest.mark.slow
def test_the_text_search_config_runs_two_cheap_trials(texts, tmp_path):
    kit, cfg = texts["kit"], texts["cfg"]
    search = kit.search_config(cfg, trials=2)
    assert search.tuner.max_trials == 2 and search.backbone.frozen_depth is None
    started = time.monotonic()
    result = run_search(search, runs_dir=tmp_path / "searches")
    seconds = time.monotonic() - started
    print(f"text search: {[round(t['score'], 3) for t in result.completed]} in {seconds:.1f} s")
    assert result.status == "finished" and len(result.completed) == 2
    assert result.best_config().backbone.frozen_depth is None


def test_the_text_fine_tune_configs_unfreeze_glove_or_minilm_top_layers(texts):
    kit, cfg = texts["kit"], texts["cfg"]
    glove, minilm = kit.candidates(cfg, "accuracy")
    tuned = kit.fine_tune_config(kit.head_config(glove.config, None)).validate()
    assert tuned.backbone.frozen_depth == 0 and tuned.train.fine_tune_epochs >= 1
    tuned = kit.fine_tune_config(minilm.config).validate()
    assert tuned.backbone.frozen_depth == 4 and tuned.train.fine_tune_epochs >= 1


# --- tables -----------------------------------------------------------------------------------------------------
def test_the_table_kit_judges_two_classes_by_roc_auc(credit):
    kit, cfg = credit["kit"], credit["cfg"]
    assert kit.selection_metric == "roc_auc"  # set by prepare: German Credit has two classes
    assert kit.selection_metric_for(["a", "b", "c"]) == "accuracy"
    assert [c.config.train.hidden_layers for c in kit.candidates(cfg, "accuracy")] == [2, 3]
    assert len(kit.candidates(cfg, "fast")) == 1
    assert kit.head_config(cfg, None) == cfg and kit.fine_tune_config(cfg) is None


def test_table_features_are_the_encoded_train_and_val_rows(credit):
    kit, cfg, prepared = credit["kit"], credit["cfg"], credit["prepared"]
    features = kit.features(cfg, prepared)
    assert features.ids == _train_val_ids(prepared)
    assert features.x.shape[0] == len(features.ids) == len(features.y) == len(features.refs)
    # 13 categorical columns one-hot, 7 numeric: more columns than the table has, all finite
    assert features.x.shape[1] > 20 and np.isfinite(features.x).all()
    train = features.x[features.split == "train"]
    numeric_part = train[:, -3:]
    assert np.allclose(numeric_part.mean(0), 0, atol=1e-5)  # standardised on the train rows
    assert features.refs[0].startswith("line ") and "=" in features.refs[0]
    assert all(len(ref) <= 120 for ref in features.refs)


def test_table_ranking_scores_a_logistic_probe_by_auc(credit):
    kit, cfg, prepared = credit["kit"], credit["cfg"], credit["prepared"]
    frame = kit.rank(cfg, kit.candidates(cfg, "accuracy"), prepared)
    print(frame.to_string())
    assert list(frame.columns) == RANK_COLUMNS and list(frame["index"]) == [0, 1]
    assert (frame["status"] == "ok").all() and frame["score"].between(0.5, 1.0).all()
    assert frame["probe_accuracy"].between(0.0, 1.0).all()


@pytest.mark.slow
def test_the_table_head_config_trains_above_chance_and_records_val_auc(credit, tmp_path):
    # all 1,000 loans: a test AUC on 18 rows (60 a class) swung from 0.53 to 0.91 across seeds
    kit, cfg = credit["kit"], credit["cfg"].replace(data__max_per_class=None)
    record = run_experiment(kit.head_config(cfg, None), store=RunStore(tmp_path / "runs"))
    print("credit test AUC", record.metrics["roc_auc"], "accuracy", record.metrics["accuracy"])
    assert record.status == "finished" and record.metrics["roc_auc"] > 0.65
    assert any(row.get(f"val_{kit.selection_metric}") is not None for row in record.history)


@pytest.mark.slow
def test_the_table_search_config_runs_two_trials(credit, tmp_path):
    kit, cfg = credit["kit"], credit["cfg"]
    search = kit.search_config(cfg.replace(train__epochs=8), trials=2)
    assert search.tuner.objective == "val_loss" and search.tuner.hidden_layers == [1, 2, 3]
    result = run_search(search, runs_dir=tmp_path / "searches")
    assert result.status == "finished" and len(result.completed) == 2
    best = result.best_config()
    assert best.train.hidden_layers in (1, 2, 3) and best.validate()

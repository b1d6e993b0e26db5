"""Tables: German Credit against logistic regression, breast cancer from the CLI, bad CSVs, save/load,
unknown categories, transfer between tables, Stop, and the image-only features refusing tables."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading

import keras
import numpy as np
import pandas as pd
import pytest
import yaml

import lepton_widgets.api as api
from lepton_widgets.config import ConfigError, DataConfig, RunConfig
from lepton_widgets.core.backbones.run_backbone import run_weights
from lepton_widgets.core.data import DataError, get_dataset, list_datasets
from lepton_widgets.core.base.events import ListSink
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.core.tasks.tabular import (
    predict_frame,
    prepare_table,
    run_tabular_experiment,
)
from lepton_widgets.core.tasks.tabular.baseline import logistic_regression_auc
from lepton_widgets.core.tasks.tabular.model import HIDDEN_LAYERS, column_width
from lepton_widgets.core.tasks.tabular.portfolios import german_credit_frame, write_portfolios
from lepton_widgets.core.tasks.tabular.predict import load_tabular_run
from lepton_widgets.core.tasks.tabular.run import _plan_model
from lepton_widgets.core.tasks.tabular.transfer import TransferRefused, open_source

#: Measured on this split (seed 1): ours 0.833, logistic regression 0.832 (other seeds: 0.771 vs 0.734,
#: 0.795 vs 0.784). The MLP must not fall more than this below the linear baseline.
AUC_MARGIN = 0.03
TRAIN = {"epochs": 40, "learning_rate": 3e-3, "early_stopping_patience": 5, "batch_size": 32}


def sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def credit_config(**data) -> dict:
    return {"name": "credit", "seed": 1, "data": {"dataset": "german_credit", "max_per_class": None, **data},
            # image-only settings on purpose: a table must ignore them, not crash
            "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": 224},
            "train": dict(TRAIN)}


@pytest.fixture(scope="module")
def credit_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return api.train(credit_config(), runs_dir=runs)


def test_tables_are_registered_with_their_origin():
    assert {"german_credit", "breast_cancer", "table_csv"} <= set(list_datasets(modality="tabular"))
    assert [get_dataset(n).origin for n in ("german_credit", "breast_cancer", "table_csv")] == ["real", "real", "user"]
    with pytest.raises(ConfigError, match="data.target"):
        RunConfig.from_dict({"data": {"dataset": "table_csv", "path": "x.csv"}})


def test_german_credit_matches_logistic_regression_on_the_same_split(credit_run):
    assert credit_run.status == "finished" and credit_run.info["modality"] == "tabular"
    ours = credit_run.metrics["roc_auc"]
    data = prepare_table(credit_run.config.data, credit_run.config.seed)
    assert data.prepared.table.frame["split"].tolist() and credit_run.split == {
        sha_: split for sha_, split in zip(data.prepared.table.frame["sha256"], data.prepared.table.frame["split"])}
    test = data.split("test")[0]
    lr_auc = logistic_regression_auc(data)
    print(f"German Credit test ROC AUC: ours {ours:.4f}, logistic regression {lr_auc:.4f}")
    assert ours >= lr_auc - AUC_MARGIN, (ours, lr_auc)
    # Stored like an image run: same evaluation files, plus the live-curve history with val AUC.
    assert len(credit_run.predictions) == len(test) == 150
    assert credit_run.evaluation["confusion"] and credit_run.evaluation["roc_auc"] == ours
    assert credit_run.history and all(row["phase"] == "train" and "val_roc_auc" in row for row in credit_run.history)
    notes = json.loads((credit_run.path / "tabular.json").read_text())["notes"]
    assert any("'mobilenet_v2'" in n and "ignored" in n for n in notes) and any("image_size" in n for n in notes)


def test_saved_model_reloads_and_predicts_the_same(credit_run, tmp_path):
    test_rows = german_credit_frame().iloc[
        [int(ref.split()[1]) - 2 for ref in credit_run.predictions["ref"]]]  # "line N" -> row N-2
    model, schema = load_tabular_run(credit_run)
    reloaded = predict_frame(None, test_rows, model=model, schema=schema)
    stored = credit_run.predictions  # written from the in-memory model before it was saved
    assert reloaded["label"].tolist() == stored["predicted"].tolist()
    np.testing.assert_allclose(reloaded["confidence"], stored["confidence"], atol=1e-5)
    model.save(tmp_path / "again.keras")  # and once more through a second save/load
    again = keras.saving.load_model(tmp_path / "again.keras", safe_mode=True)
    np.testing.assert_array_equal(predict_frame(None, test_rows, model=again, schema=schema)["p(good)"],
                                  reloaded["p(good)"])


def test_unknown_categories_and_missing_values_at_predict(credit_run, tmp_path):
    model, schema = load_tabular_run(credit_run)

    def predict(frame):
        return predict_frame(None, frame, model=model, schema=schema)

    rows = german_credit_frame().head(3).copy()
    spaceship, time_machine = rows.copy(), rows.copy()
    spaceship["purpose"], time_machine["purpose"] = "spaceship", "time machine"
    a, b = predict(spaceship), predict(time_machine)
    np.testing.assert_allclose(a["p(good)"], b["p(good)"], atol=1e-6)  # both land in the one OOV slot
    assert not np.allclose(a["p(good)"], predict(rows)["p(good)"])  # and OOV is not ignored
    holes = rows.copy()
    holes.loc[0, "credit_amount"], holes.loc[1, "job"] = np.nan, None
    assert np.isfinite(predict(holes)[["p(bad)", "p(good)"]].to_numpy()).all()
    with pytest.raises(DataError, match="lacks 1 column.*'age_in_years'"):
        predict(rows.drop(columns=["age_in_years"]))
    missing = api.predict(credit_run, ["row.csv"])  # a table run takes CSV files; a missing one is said per file
    assert missing["label"].isna().all() and "row.csv" in missing["error"][0]
    rows.to_csv(tmp_path / "rows.csv", index=False)
    csv = predict_frame(credit_run, tmp_path / "rows.csv")  # by run and CSV path, as a user would
    np.testing.assert_allclose(csv["p(good)"], predict(rows)["p(good)"], atol=1e-6)


def test_breast_cancer_trains_from_the_cli(tmp_path):
    config = tmp_path / "cancer.yaml"
    config.write_text(yaml.safe_dump({"name": "cancer", "data": {"dataset": "breast_cancer", "max_per_class": None},
                                      "train": {**TRAIN, "epochs": 8}}))
    runs = tmp_path / "runs"
    out = subprocess.run([sys.executable, "-m", "lepton_widgets.cli", "--runs-dir", str(runs), "train", str(config)],
                         capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "finished" in out.stdout and "roc_auc" in out.stdout and "[train]" in out.stderr
    record = RunStore(runs).runs()[0]
    assert record.metrics["roc_auc"] > 0.95 and record.class_names == ["malignant", "benign"]


def write_csv(path, frame: pd.DataFrame) -> str:
    frame.to_csv(path, index=False)
    return sha(path)


def test_wrong_target_name_lists_columns_and_close_matches(tmp_path):
    path = tmp_path / "loans.csv"
    before = write_csv(path, german_credit_frame().head(60))
    with pytest.raises(DataError) as error:
        prepare_table(DataConfig(dataset="table_csv", path=str(path), target="credibility"), seed=0)
    message = str(error.value)
    assert "'credibility' not found in loans.csv" in message and "'purpose'" in message
    assert "Did you mean 'creditability'" in message
    with pytest.raises(DataError, match="Did you mean 'duration_in_month'"):
        prepare_table(DataConfig(dataset="table_csv", path=str(path), target="creditability"), seed=0,
                      column_types={"duration_in_months": "categorical"})
    assert sha(path) == before


def test_csv_report_missing_target_missing_values_constant_column_and_overrides(tmp_path):
    frame = german_credit_frame().head(120).copy()
    frame["branch"] = "Berlin"  # constant: dropped with a warning
    frame.loc[[3, 7], "creditability"] = None  # left out; the report names lines 5 and 9
    frame.loc[[1, 2], "age_in_years"] = np.nan
    frame.loc[4, "job"] = None
    path = tmp_path / "loans.csv"
    before = write_csv(path, frame)
    data = prepare_table(DataConfig(dataset="table_csv", path=str(path), target="creditability", max_per_class=None),
                         seed=0, column_types={"duration_in_month": "categorical"})
    report = data.prepared.report
    assert any("2 row(s) have no creditability value" in w and "lines 5, 9" in w for w in report.warnings)
    assert any("'branch' not used: constant" in w for w in report.warnings)
    assert any("imputed inside the model" in n and "age_in_years (2)" in n and "job (1)" in n for n in report.notes)
    skipped = report.frame[report.frame["status"] == "skipped"]
    assert skipped["ref"].tolist() == ["line 5", "line 9"] and len(data.prepared.table) == 118
    assert data.schema.columns["duration_in_month"] == "categorical"  # the override
    assert data.schema.columns["credit_amount"] == "numeric" and data.schema.columns["purpose"] == "categorical"
    assert data.schema.columns["number_of_existing_credits_at_this_bank"] == "categorical"  # whole, 4 values
    assert data.schema.missing_indicators == ["age_in_years"] and "branch" not in data.schema.columns
    assert sha(path) == before


def test_non_utf8_empty_and_too_small_tables(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"name,city,y\n" + "".join(
        f"Jos\xe9 {i},M\xe1laga,{'yes' if i % 2 else 'no'}\n" for i in range(12)).encode("latin-1"))
    before = sha(latin)
    data = prepare_table(DataConfig(dataset="table_csv", path=str(latin), target="y"), seed=0)
    assert any("not UTF-8" in w and "Latin-1" in w for w in data.prepared.report.warnings)
    assert data.features["name"].iloc[0].startswith("José")
    assert sha(latin) == before

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty.csv is empty"):
        prepare_table(DataConfig(dataset="table_csv", path=str(empty), target="y"), seed=0)
    header = tmp_path / "header.csv"
    header.write_text("a,b,y\n")
    with pytest.raises(DataError, match="header .* but no rows"):
        prepare_table(DataConfig(dataset="table_csv", path=str(header), target="y"), seed=0)
    small = tmp_path / "small.csv"
    small.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{'rare' if i < 2 else 'common'}\n" for i in range(20)))
    with pytest.raises(DataError, match="'rare' has 2"):
        prepare_table(DataConfig(dataset="table_csv", path=str(small), target="y"), seed=0)


def test_transfer_reuses_shared_columns_and_trains(credit_run, tmp_path):
    _, tenants = write_portfolios(tmp_path)
    frame = pd.read_csv(tenants)
    frame.loc[::10, "age_in_years"] = np.nan  # the source had no missing ages: a new indicator slot
    before = write_csv(tenants, frame)
    cfg = RunConfig.from_dict({"name": "tenants", "seed": 0, "backbone": {"weights": run_weights(credit_run)},
                               "data": {"dataset": "table_csv", "path": str(tenants), "target": "creditability",
                                        "max_per_class": None, "val_fraction": 0.2, "test_fraction": 0.3},
                               "train": {**TRAIN, "epochs": 4}})
    data = prepare_table(cfg.data, cfg.seed)
    model, encoding, transfer = _plan_model(cfg, data)  # built, not yet trained: compare with the source
    source = open_source(cfg.backbone.weights)
    assert transfer["new_columns"] == ["monthly_amount"]
    assert transfer["source_only_columns"] == ["telephone", "foreign_worker"] and transfer["classifier_copied"]
    assert encoding["credit_amount"]["mean"] == source.encoding["credit_amount"]["mean"]  # source statistics
    assert encoding["purpose"]["vocabulary"][:len(source.encoding["purpose"]["vocabulary"])] == \
        source.encoding["purpose"]["vocabulary"]
    assert encoding["age_in_years"]["indicator"] and not source.encoding["age_in_years"]["indicator"]
    kernel = model.get_layer(HIDDEN_LAYERS[0]).get_weights()[0]
    source_kernel = source.model.get_layer(HIDDEN_LAYERS[0]).get_weights()[0]

    def rows(schema, enc, column, width):
        at = sum(column_width(enc[c]) for c in list(schema.columns)[:list(schema.columns).index(column)])
        return slice(at, at + width)

    for column in ("credit_amount", "purpose", "housing"):
        width = column_width(source.encoding[column])
        np.testing.assert_array_equal(kernel[rows(data.schema, encoding, column, width)],
                                      source_kernel[rows(source.schema, source.encoding, column, width)])
    new = kernel[rows(data.schema, encoding, "monthly_amount", 1)]
    assert not any(np.allclose(new, source_kernel[i]) for i in range(len(source_kernel)))
    np.testing.assert_array_equal(model.get_layer(HIDDEN_LAYERS[1]).get_weights()[0],
                                  source.model.get_layer(HIDDEN_LAYERS[1]).get_weights()[0])

    record = run_tabular_experiment(cfg, store=RunStore(tmp_path / "runs"))
    assert record.status == "finished" and 0.5 < record.metrics["roc_auc"] <= 1.0
    assert record.env["weights"] == f"run:{credit_run.run_id}"
    assert sha(tenants) == before


def test_transfer_refuses_a_table_that_shares_no_column(credit_run, tmp_path):
    path = tmp_path / "sensors.csv"
    rng = np.random.default_rng(0)
    write_csv(path, pd.DataFrame({"temperature": rng.normal(size=30), "vibration": rng.normal(size=30),
                                  "fault": ["yes", "no"] * 15}))
    cfg = RunConfig.from_dict({"backbone": {"weights": run_weights(credit_run)},
                               "data": {"dataset": "table_csv", "path": str(path), "target": "fault"}})
    with pytest.raises(TransferRefused, match="shares no column with this table.*temperature \\(numeric\\)"):
        run_tabular_experiment(cfg, store=RunStore(tmp_path / "runs"))
    # An image run is no source for a table (a real, finished run folder with a saved model in it).
    writer = RunStore(tmp_path / "runs").create(RunConfig.from_dict({"name": "images", "data": {"dataset": "digits"}}))
    writer.save_model(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    image_run = writer.finalize("finished")
    with pytest.raises(TransferRefused, match="is not a tabular run .*'digits'"):
        run_tabular_experiment(cfg.replace(backbone__weights=run_weights(image_run)), store=RunStore(tmp_path / "r2"))
    with pytest.raises(ConfigError, match="attacks image pixels"):
        run_tabular_experiment(cfg.replace(backbone__weights="none", train__adversarial="fgsm"),
                               store=RunStore(tmp_path / "runs"))


def test_stop_after_the_first_epoch_stores_a_cancelled_run(tmp_path):
    stop, sink = threading.Event(), ListSink()

    def stop_at_first_epoch(event):
        sink(event)
        if event.kind == "epoch_ended":
            stop.set()

    record = api.train(credit_config(max_per_class=60), runs_dir=tmp_path, sink=stop_at_first_epoch, stop_event=stop)
    assert record.status == "cancelled" and len(record.history) == 1
    assert "phase_started" in sink.kinds() and "run_cancelled" in sink.kinds()


def test_image_only_features_refuse_tabular_runs(credit_run):
    # (export works for table runs: tests/test_export_modalities.py)
    for call in (lambda: api.evaluate(credit_run), lambda: api.rank_backbones(credit_run.config)):
        with pytest.raises(DataError, match="'german_credit' is a table.*works on image data only"):
            call()
    # robustness attacks pictures and texts; the table task refuses it (tests/test_text_robustness.py)
    with pytest.raises(ValueError, match="The robustness check is available for .*; this run was trained on tables"):
        api.robustness(credit_run, max_samples=5)


def test_evaluate_panel_shows_auc_and_a_cells_rows_with_their_values(credit_run):
    from lepton_widgets.core.tasks.image.gallery import DEFAULT_LIMIT
    from lepton_widgets.panels.evaluate import EvaluatePanel
    from lepton_widgets.state import Runner, Session

    session = Session()
    panel = EvaluatePanel(session, Runner(session, runs_dir=credit_run.path.parent))
    session.current_run = credit_run.run_id
    assert "ROC AUC" in panel.metrics.value
    assert f"{credit_run.metrics['roc_auc']:.3f}" in panel.metrics.value
    assert panel.robustness_panel.layout.display == "none"       # attacks work on pixels, not rows
    assert "test rows" in panel.note.value

    confusion = np.asarray(credit_run.evaluation["confusion"])
    true, predicted = map(int, np.argwhere(confusion * (1 - np.eye(len(confusion))) > 0)[0])  # an error cell
    panel.select_cell(true, predicted)
    shown = panel.gallery.children[0].children[0].value
    shown_rows = min(int(confusion[true, predicted]), DEFAULT_LIMIT)
    assert shown.count("<tr") == 1 + shown_rows
    assert "duration_in_month" in shown and "purpose" in shown       # German Credit's own columns
    predictions = credit_run.predictions
    wrong = predictions[(predictions.true_index == true) & (predictions.predicted_index == predicted)]
    top = wrong.sort_values("confidence", ascending=False).head(shown_rows)   # the most confident mistakes
    assert all(f"<td>{ref}</td>" in shown for ref in top["ref"])


def test_backbone_panel_offers_tabular_runs_only_for_tables(credit_run):
    from lepton_widgets.panels.backbone import BackbonePanel
    from lepton_widgets.state import Runner, Session

    session = Session(dataset="digits", backbone="small_cnn", weights="none", image_size=32)
    panel = BackbonePanel(session, Runner(session, runs_dir=credit_run.path.parent))
    source = run_weights(credit_run)
    assert source not in [value for _, value in panel.run_select.options]   # images cannot reuse a table's MLP
    assert panel.modality_note.value == ""
    session.dataset = "german_credit"
    assert source in [value for _, value in panel.run_select.options]
    assert "This dataset is a table" in panel.modality_note.value


def test_run_list_names_what_a_table_run_trained(credit_run):
    rows = RunStore(credit_run.path.parent).frame().set_index("run_id")
    assert rows.loc[credit_run.run_id, "backbone"] == "mlp (table columns)"   # not the ignored mobilenet_v2
    assert rows.loc[credit_run.run_id, "dataset"] == "german_credit"

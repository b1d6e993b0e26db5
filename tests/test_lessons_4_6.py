"""Lessons 4-6 run as a learner would (English solutions, small size, a wrong answer tried before each
solution): every self-check rejects the wrong answer and accepts the solution, and each lesson's own claim holds."""

from __future__ import annotations

import pytest
from lesson_harness import assert_checks_discriminate, run_lesson


@pytest.mark.slow
def test_lesson_4_reading_a_model(tmp_path, monkeypatch):
    run = run_lesson("04_reading_a_model", tmp_path, monkeypatch)
    assert_checks_discriminate(run)
    measured = run.claims["reading_a_model"]
    # The pair the solution read off the matrix is a mistake (off the diagonal) and its count is the largest
    # off-diagonal entry; the worst mistakes come with confidences above chance (10 classes); Grad-CAM gave one
    # map per explained picture and the Evaluate panel showed that cell's pictures.
    true, said = measured["pair"]
    assert true != said and measured["pair_count"] == measured["largest_off_diagonal"] >= 1, measured
    confidences = measured["worst_confidences"]
    assert confidences and all(0.1 < c <= 1.0 for c in confidences), confidences
    assert confidences == sorted(confidences, reverse=True), confidences
    assert measured["heatmaps"][0] == min(3, len(confidences)) and measured["shown_in_panel"] >= 1, measured
    # Small size measured (seed 7, 60 pictures per class, 32 px): accuracy 0.656 on 90 test pictures, 0.822 on the
    # surer half (0.489 on the other half). With 30 per class the two were equal (0.65): too small to show it.
    assert measured["accuracy"] > 0.4, measured
    assert measured["accuracy_sure_half"] > measured["accuracy_all"], measured


@pytest.mark.slow
def test_lesson_5_your_run_as_a_backbone(tmp_path, monkeypatch):
    run = run_lesson("05_your_run_as_a_backbone", tmp_path, monkeypatch)
    assert_checks_discriminate(run)
    measured = run.claims["seeded_vs_scratch"]
    assert measured["first_accuracy"] > 0.8 and measured["head_units"] == 5, measured
    # MEASURED_5 below: the seeded run's gain over scratch on the same ~6 pictures per class of 5-9.
    assert measured["gain"] >= GAIN_5, measured


@pytest.mark.slow
def test_lesson_6_beyond_pictures(tmp_path, monkeypatch):
    run = run_lesson("06_beyond_pictures", tmp_path, monkeypatch)
    assert_checks_discriminate(run)
    measured = run.claims["beyond_pictures"]
    assert set(measured) >= {"sounds", "texts", "tables"}, measured
    for kind, margin in MARGINS_6.items():
        gain = measured[kind]["accuracy"] - measured[kind]["baseline"]
        assert gain >= margin, (kind, measured[kind])


#: Lesson 5, small size (seed 7, ~6 training pictures per digit, 90 test pictures): seeded 0.522 vs scratch 0.244
#: (+0.28) measured here; tests/test_run_backbone.py measured +0.32 on the same setting. The claim: seeded beats
#: scratch by at least 15 points.
GAIN_5 = 0.15
#: Lesson 6, small size: how far above the majority-class baseline each run must be. Measured here (small size):
#: sounds 0.975 vs 0.10 (30 clips per word, seed 7; 20 clips and 6 epochs gave 0.83 and 0.57 with seeds 7, 8);
#: texts (GloVe, 200 reviews per class, 100 test reviews) 0.70 vs 0.50, seeds 1 and 2 gave 0.74 and 0.68;
#: tables (breast cancer, 86 test rows) 1.00 vs 0.63.
MARGINS_6 = {"sounds": 0.40, "texts": 0.08, "tables": 0.20}

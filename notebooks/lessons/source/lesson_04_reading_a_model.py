"""Lesson 4: reading a model — the confusion matrix, the worst mistakes and Grad-CAM."""

from cells import code, exercise, md

from lepton_widgets.i18n import N_

SLUG = "04_reading_a_model"
TITLE = N_("Lesson 4 · Reading a model: confusion matrix, worst mistakes and Grad-CAM")

RIGHT_PAIR = N_("That cell holds the largest number off the diagonal, so the model mixes up these two "
                "classes more than any other pair.")
WRONG_PAIR = N_("That is not the pair. Look for the largest number that is NOT on the diagonal: its row is the true class, "
                "its column is what the model said.")
RIGHT_SURE = N_("When the model is more sure, it is right more often. Sure does not mean always right, "
                "though: the worst mistakes above were made with high confidence.")
WRONG_SURE = N_("Look again at the two accuracies printed above: on the half the model is most sure of, it is "
                "right more often than on all the pictures.")

CELLS = [
    md(N_("A score such as \"82% accuracy\" says how often the model is right, but not **where** it goes wrong. "
          "In this lesson we train a small model on clothing pictures (Fashion-MNIST) and read it three ways:\n\n"
          "1. the **confusion matrix**: which class is taken for which;\n"
          "2. the **worst mistakes**: wrong answers given with the most confidence;\n"
          "3. **Grad-CAM**: a heat map of the part of the picture the model looked at.")),
    code("""
import numpy as np
import pandas as pd
import lepton_widgets as lw
from lepton_widgets.i18n import N_
from lepton_widgets.panels.glossary import words_used_here

display(words_used_here(["confusion_matrix", "confidence", "grad_cam", "test_set"]))
cfg = lw.RunConfig.from_dict({
    "name": "reading-a-model",
    "seed": 7,
    "data": {"dataset": "fashion_mnist", "max_per_class": sized(120, 60)},
    "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": sized(64, 32),
                 "frozen_depth": None},   # all blocks frozen: only the new head learns (quick)
    "train": {"epochs": 15, "fine_tune_epochs": 0},
})
run = lw.train(cfg)
print(run.status, "accuracy", round(run.metrics["accuracy"], 3))
"""),
    md(N_("## 1. The confusion matrix\n\n"
          "Each **row** is the true class of a test picture, each **column** is what the model answered. "
          "The diagonal counts the right answers; every number off the diagonal is a mistake.")),
    code("""
# What the run measured on its test pictures (lw.evaluate(run) scores the saved model again, the same way).
evaluation = run.evaluation
names = evaluation["class_names"]
confusion = np.asarray(evaluation["confusion"])
pd.DataFrame(confusion, index=names, columns=names)
"""),
    md(N_("The Evaluate panel of the workbench shows the same matrix as a coloured chart. Click a cell (or run the "
          "cell below, which does the same) to see the pictures in it, each with its Grad-CAM heat map.")),
    code("""
from lepton_widgets.state import Runner, Session
from lepton_widgets.panels.evaluate import EvaluatePanel

session = Session()
panel = EvaluatePanel(session, Runner(session, runs_dir=run.path.parent))
session.current_run = run.run_id
panel.widget
"""),
    md(N_("### Exercise 1\n\n"
          "Which true class does the model most often take for which other class? Read the matrix above and "
          "write the pair as `(true class, answered class)`, for example `(\"Shirt\", \"T-shirt/top\")`.")),
    code(f"""
def most_mixed_up(answer):
    true, said = answer
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    return true != said and off[names.index(true), names.index(said)] == off.max()

pair = Exercise("l4_pair", accept=most_mixed_up, right=N_({RIGHT_PAIR!r}), wrong=N_({WRONG_PAIR!r}))
"""),
    exercise("l4_pair",
             blank='answer = None  # ("true class", "answered class")\npair.check(answer)',
             solution="off = confusion.copy()\nnp.fill_diagonal(off, 0)\n"
                      "true_index, said_index = np.unravel_index(off.argmax(), off.shape)\n"
                      "answer = (names[true_index], names[said_index])\nprint(answer)\npair.check(answer)",
             wrong='answer = ("Trouser", "Trouser")  # the largest number, but on the diagonal\npair.check(answer)'),
    code("""
# The examples in that cell, with where the model looked (red = most evidence for its answer).
off = confusion.copy()
np.fill_diagonal(off, 0)
true_index, said_index = np.unravel_index(off.argmax(), off.shape)
panel.select_cell(true_index, said_index)
print(len(panel.gallery_items), "pictures in this cell")
panel.widget
"""),
    md(N_("## 2. The worst mistakes\n\n"
          "The **confidence** is the probability the model gives its own answer. The worst mistakes are the wrong "
          "answers given with the highest confidence: they are the first place to look for a wrong label, a "
          "confusing picture or a class the model has not understood.")),
    code("""
worst = pd.DataFrame(evaluation["worst"])[["ref", "true", "predicted", "confidence"]]
worst.head(8)
"""),
    md(N_("## 3. Grad-CAM: where did the model look?\n\n"
          "Grad-CAM colours the parts of the picture that pushed the model towards its answer. For the three "
          "worst mistakes: did it look at the garment, or at the background?")),
    code("""
import io
import ipywidgets as widgets
from PIL import Image
from lepton_widgets.core.tasks.image.gallery import load_images
from lepton_widgets.core.tasks.image.gradcam import gradcam, overlay

def picture(array, caption):
    buffer = io.BytesIO()
    Image.fromarray(array).resize((112, 112), Image.NEAREST).save(buffer, "PNG")
    return widgets.VBox([widgets.Image(value=buffer.getvalue()), widgets.Label(caption)])

by_ref = run.predictions.set_index("ref")
rows = by_ref.loc[worst["ref"].head(3)].reset_index()
size = cfg.backbone.image_size
maps = gradcam(run.load_model(), load_images(run, rows, size, as_float=True),
               class_index=[names.index(p) for p in rows["predicted"]])
shown = load_images(run, rows, size)
widgets.HBox([widgets.VBox([picture(shown[k], f"{row['true']} -> {row['predicted']}"),
                            picture(overlay(shown[k], maps.heatmaps[k]), f"{row['confidence']:.2f}")])
              for k, row in rows.iterrows()])
"""),
    md(N_("### Exercise 2\n\n"
          "Keep only the half of the test pictures the model is most sure about. Is its accuracy on that half "
          "`\"higher\"` or `\"lower\"` than on all the pictures? Predict first, then run the cell below and check.")),
    code(f"""
predictions = run.predictions   # one row per test picture: true class, answer, confidence
confidence = predictions["confidence"].to_numpy()
correct = (predictions["true"] == predictions["predicted"]).to_numpy()
sure = confidence >= np.median(confidence)
on_all, on_sure = correct.mean(), correct[sure].mean()
print(f"all pictures: {{on_all:.3f}}   the surest half: {{on_sure:.3f}}")
truth = "higher" if on_sure > on_all else "lower" if on_sure < on_all else "same"
more_sure = Exercise("l4_sure", accept=lambda a: str(a).strip().lower() == truth,
                     right=N_({RIGHT_SURE!r}), wrong=N_({WRONG_SURE!r}))
"""),
    exercise("l4_sure",
             blank='answer = None  # "higher" or "lower"\nmore_sure.check(answer)',
             solution='answer = "higher"\nmore_sure.check(answer)',
             wrong='answer = "lower"\nmore_sure.check(answer)'),
    md(N_("## What we measured\n\n"
          "The pair you found is the largest number off the diagonal, every worst mistake comes with its "
          "confidence, and Grad-CAM gave one heat map per picture.")),
    code("""
claim("reading_a_model", accuracy=float(evaluation["accuracy"]),
      pair=[names[true_index], names[said_index]], pair_count=int(off[true_index, said_index]),
      largest_off_diagonal=int(off.max()), worst_confidences=[float(c) for c in worst["confidence"]],
      heatmaps=list(maps.heatmaps.shape), shown_in_panel=len(panel.gallery_items),
      accuracy_all=float(on_all), accuracy_sure_half=float(on_sure))
"""),
]

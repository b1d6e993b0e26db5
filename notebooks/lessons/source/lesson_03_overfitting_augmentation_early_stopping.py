"""Lesson 3: overfitting, augmentation and early stopping. Two runs on the same few pictures: A trains many
epochs with no augmentation and nothing to stop it; B has augmentation and early stopping. Their training
(dashed) and validation (solid) curves share one chart. Claim: at the end, the gap between training and
validation loss is larger for A than for B."""

from cells import code, exercise, md

from lepton_widgets.i18n import N_

SLUG = "03_overfitting_augmentation_early_stopping"
TITLE = N_("Lesson 3 · Overfitting, augmentation and early stopping")

TRAINING = N_("{name} · training")
VALIDATION = N_("{name} · validation")
RUN_A = N_("A: many epochs, no augmentation")
RUN_B = N_("B: augmentation + early stopping")
EPOCH = N_("epoch")
LOSS = N_("loss")
ACCURACY = N_("accuracy")
CURVES_TITLE = N_("Training (dashed) and validation (solid), one colour per run")
RUN = N_("run")
EPOCHS_RUN = N_("epochs run")
TRAIN_LOSS = N_("training loss at the end")
VAL_LOSS = N_("validation loss at the end")
LOSS_GAP = N_("gap (validation - training)")
TEST_ACCURACY = N_("test accuracy")

WHICH_RIGHT = N_("Run A overfits: its training loss keeps falling towards zero while its validation loss stops "
                 "improving or rises, so the gap between the dashed and the solid curve grows. It is memorising "
                 "the training pictures. Augmentation shows B a slightly different picture every epoch, and "
                 "early stopping ends B's training when validation stops improving.")
WHICH_WRONG = N_("Overfitting is memorising: doing better and better on the training pictures but not on new ones. "
                 "Which run sees the very same pictures again and again, with nothing to stop it?")
GAP_RIGHT = N_("The run with the larger gap between its training and its validation curve is the one that "
               "overfits. A small gap means what it learnt also holds for pictures it never trained on.")
GAP_WRONG = N_("Look at the table: the gap is the validation loss minus the training loss at the end of each run. "
               "Which run has the larger gap?")

CELLS = [
    md(N_("A network **overfits** when it learns the training pictures by heart instead of learning what makes a "
          "class. You can see it in two curves:\n\n"
          "- the **training** loss (how wrong it is on the pictures it learns from) keeps going down;\n"
          "- the **validation** loss (how wrong it is on pictures kept aside) stops going down, or goes up.\n\n"
          "The space between the two curves is the **gap**. Two tools keep it small:\n\n"
          "- **Data augmentation**: each epoch, every picture is slightly flipped, zoomed or shifted, so the "
          "network never sees the exact same picture twice and cannot simply memorise it.\n"
          "- **Early stopping**: training stops when the validation loss has not improved for a few epochs, and "
          "the best weights are kept.\n\n"
          "We train two runs on the same few pictures with the same pretrained network and the same head:\n\n"
          "- **A**: many epochs, no augmentation, no early stopping.\n"
          "- **B**: the same, plus augmentation and early stopping.")),
    code("""
import lepton_widgets as lw
from lepton_widgets.i18n import _

SIZE = sized(64, 32)          # picture size in pixels
PER_CLASS = sized(40, 20)     # pictures per class: few, so memorising is easy
EPOCHS = sized(40, 12)        # the most epochs either run may train

common = {"data": {"dataset": "fashion_mnist", "max_per_class": PER_CLASS},
          "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": SIZE},
          "train": {"epochs": EPOCHS, "fine_tune_epochs": 0, "head_units": 128, "dropout": 0.0, "l2": 0.0,
                    "lr_schedule": "constant"}}
run_a = {**common, "name": "lesson3-A",
         "train": {**common["train"], "early_stopping_patience": 0}}            # 0: never stop early
run_b = {**common, "name": "lesson3-B",
         "augment": {"flip": "horizontal", "zoom": 0.15, "translation": 0.1},
         "train": {**common["train"], "early_stopping_patience": 2}}            # stop after 2 epochs without progress
print(lw.RunConfig.from_dict(run_b).to_yaml())"""),
    md(N_("### Exercise 1 · Predict first\n\n"
          "Which run will overfit: **A** (many epochs, no augmentation, no early stopping) or **B** "
          "(augmentation and early stopping)? Write `\"A\"` or `\"B\"`, run the cell, then train both below and "
          "see.")),
    code(f"""
ex_which = Exercise("l3_which", accept=lambda a: str(a).strip().upper() == "A",
                    right={WHICH_RIGHT!r},
                    wrong={WHICH_WRONG!r})
ex_gap = Exercise("l3_gap", accept=lambda a: str(a).strip().upper() == larger_gap,
                  right={GAP_RIGHT!r},
                  wrong={GAP_WRONG!r})"""),
    exercise("l3_which",
             blank='overfits = None  # "A" or "B"\nex_which.check(overfits)',
             solution='overfits = "A"\nex_which.check(overfits)',
             wrong='overfits = "B"\nex_which.check(overfits)'),
    md(N_("### Train both\n\n"
          "Run A trains on features the frozen network computed once, so each epoch takes a blink. Run B must "
          "look at freshly changed pictures every epoch, so each of its epochs takes longer.")),
    code("""
a = lw.train(run_a)
b = lw.train(run_b)
print(a.run_id, b.run_id)"""),
    md(N_("### Both runs on one chart\n\n"
          "Dashed lines are training, solid lines are validation; each run has its own colour. Switch the "
          "metric to accuracy in the last line to see the same story upside down.")),
    code(f"""
import pandas as pd
import plotly.graph_objects as go


def curves(metric="loss"):
    figure = go.Figure(layout=dict(title=_({CURVES_TITLE!r}), xaxis_title=_({EPOCH!r}),
                                   yaxis_title=_({LOSS!r}) if metric == "loss" else _({ACCURACY!r}),
                                   height=380, width=720))
    for record, name, colour in ((a, _({RUN_A!r}), "#d62728"), (b, _({RUN_B!r}), "#1f77b4")):
        history = pd.DataFrame(record.history)
        figure.add_scatter(x=history.epoch, y=history[metric], name=_({TRAINING!r}).format(name=name),
                           line=dict(color=colour, dash="dash"))
        figure.add_scatter(x=history.epoch, y=history["val_" + metric], name=_({VALIDATION!r}).format(name=name),
                           line=dict(color=colour))
    return figure


curves("loss").show()"""),
    md(N_("The workbench draws the same chart in its Train step (**Compare runs**): choose runs in the list "
          "(here both are chosen for you) and switch between loss and accuracy.")),
    code("""
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.panels.compare_curves import CompareRunsView
from lepton_widgets.state import Session

compare = CompareRunsView(Session(), RunStore())
compare.select.value = (a.run_id, b.run_id)
compare.widget"""),
    code(f"""
rows = []
for name, record in (("A", a), ("B", b)):
    last = record.history[-1]
    rows.append({{_({RUN!r}): name, _({EPOCHS_RUN!r}): len(record.history),
                 _({TRAIN_LOSS!r}): round(last["loss"], 3), _({VAL_LOSS!r}): round(last["val_loss"], 3),
                 _({LOSS_GAP!r}): round(last["val_loss"] - last["loss"], 3),
                 _({TEST_ACCURACY!r}): round(record.metrics["accuracy"], 3)}})
table = pd.DataFrame(rows).set_index(_({RUN!r}))
gaps = {{name: record.history[-1]["val_loss"] - record.history[-1]["loss"] for name, record in (("A", a), ("B", b))}}
larger_gap = max(gaps, key=gaps.get)
table"""),
    md(N_("### Exercise 2 · Read the chart\n\n"
          "Which run ended with the **larger gap** between its training and validation loss? Write `\"A\"` or "
          "`\"B\"`. Was your prediction in exercise 1 right?")),
    exercise("l3_gap",
             blank='larger = None  # "A" or "B"\nex_gap.check(larger)',
             solution='larger = "A"\nex_gap.check(larger)',
             wrong='larger = "B"\nex_gap.check(larger)'),
    md(N_("### What to remember\n\n"
          "- Always look at training and validation together: a falling training loss alone says nothing about "
          "new pictures.\n"
          "- A growing gap means overfitting. More pictures, augmentation, early stopping, dropout and freezing "
          "more blocks all shrink it.\n"
          "- Try it: give run A `\"dropout\": 0.5`, or run B no augmentation but early stopping, and compare the "
          "gaps again.")),
    code("""
claim("overfitting_gap", gap_a=gaps["A"], gap_b=gaps["B"], epochs_a=len(a.history), epochs_b=len(b.history),
      test_accuracy_a=a.metrics["accuracy"], test_accuracy_b=b.metrics["accuracy"])"""),
]

"""Lesson 2: frozen or fine-tuned. The workbench's Freeze panel (frozen-depth slider, blocks, trainable
parameters), the trainable parameter count at every depth, and the two-phase recipe (head first, then the top
blocks at a small learning rate). Claim: the trainable parameter count falls with every extra frozen block."""

from cells import code, exercise, md

from lepton_widgets.i18n import N_

SLUG = "02_frozen_or_fine_tuned"
TITLE = N_("Lesson 2 · Frozen or fine-tuned")

FROZEN_BLOCKS = N_("frozen blocks")
TRAINABLE = N_("trainable parameters")
DEPTH_CHART = N_("Freeze more blocks, and fewer parameters learn")
PHASE_HEAD = N_("1 · head only")
PHASE_FINE = N_("2 · fine-tune the top blocks")
EPOCH = N_("epoch")
VAL_ACCURACY = N_("validation accuracy")
BLOCKS_LINE = N_("MobileNetV2 has {n} blocks.")
PHASE_CHART = N_("The two-phase recipe")
SUMMARY_LINE = N_("Best validation accuracy with the head only: {head:.0%}; after fine-tuning: {fine:.0%}. "
                  "Test accuracy of the final model: {test:.0%}.")

MORE_RIGHT = N_("Down. A frozen block keeps its weights, so its parameters stop counting as trainable; every block "
                "you freeze takes its parameters out of training. The table below shows it at every depth.")
MORE_WRONG = N_("Frozen means \"kept as it is\": a frozen block does not learn. So does freezing more blocks give "
                "training more parameters to change, or fewer?")
DEPTH_RIGHT = N_("Yes: the frozen depth counts frozen blocks from the input side, so the number of blocks minus 2 "
                 "leaves exactly the last 2 blocks (and the head) learning.")
DEPTH_WRONG = N_("The slider counts the blocks that stay frozen, starting at the input, not the ones that learn. "
                 "Look at how many blocks the network has (printed above) and take away the 2 that should learn.")

CELLS = [
    md(N_("A pretrained network is a stack of **blocks**. The first blocks find simple things (edges, colours), "
          "later blocks find bigger patterns (textures, parts of objects). On top sits a new **head** that picks "
          "your classes.\n\n"
          "A **frozen** block keeps the weights it learnt on ImageNet; an unfrozen block is **fine-tuned**: its "
          "weights change a little to fit your pictures. The **frozen depth** says how many blocks, counted from "
          "the input, stay frozen.\n\n"
          "Below is the workbench's Freeze panel for MobileNetV2. Move the slider and watch the picture and the "
          "number of trainable parameters.")),
    code(f"""
import lepton_widgets as lw
from lepton_widgets.i18n import _
from lepton_widgets.panels.freeze import FreezePanel
from lepton_widgets.state import Session

SIZE = sized(96, 32)          # picture size in pixels
PER_CLASS = sized(60, 20)     # pictures per class
session = Session(name="lesson2-two-phase", dataset="fashion_mnist", max_per_class=PER_CLASS,
                  backbone="mobilenet_v2", weights="offline", image_size=SIZE)
freeze = FreezePanel(session)
freeze.wait(180)              # the panel builds the real model once to count its blocks
blocks = freeze.summary
print(_({BLOCKS_LINE!r}).format(n=blocks.n_blocks))
freeze"""),
    md(N_("### Exercise 1 · Predict first\n\n"
          "When you freeze **more** blocks, does the number of trainable parameters go **up** or **down**? "
          "Write `\"up\"` or `\"down\"`.")),
    code(f"""
ex_more = Exercise("l2_more_frozen", accept=lambda a: str(a).strip().lower() == "down",
                   right={MORE_RIGHT!r},
                   wrong={MORE_WRONG!r})
ex_depth = Exercise("l2_last_two", accept=lambda a: int(a) == blocks.n_blocks - 2 == session.frozen_depth,
                    right={DEPTH_RIGHT!r},
                    wrong={DEPTH_WRONG!r})"""),
    exercise("l2_more_frozen",
             blank='direction = None  # "up" or "down"\nex_more.check(direction)',
             solution='direction = "down"\nex_more.check(direction)',
             wrong='direction = "up"\nex_more.check(direction)'),
    md(N_("Now count them at every frozen depth, from 0 (everything learns) to all blocks frozen (only the head "
          "learns).")),
    code(f"""
import pandas as pd
import plotly.graph_objects as go

depths = list(range(blocks.n_blocks + 1))
trainable = [blocks.trainable_at(d) for d in depths]
display(pd.DataFrame({{_({FROZEN_BLOCKS!r}): depths, _({TRAINABLE!r}): trainable}}).set_index(_({FROZEN_BLOCKS!r})).T)
go.Figure(go.Scatter(x=depths, y=trainable, mode="lines+markers"),
          layout=dict(title=_({DEPTH_CHART!r}), xaxis_title=_({FROZEN_BLOCKS!r}), yaxis_title=_({TRAINABLE!r}),
                      height=320, width=620)).show()
falls = all(later < earlier for earlier, later in zip(trainable, trainable[1:]))
falls"""),
    md(N_("### Exercise 2 · Only the last 2 blocks learn\n\n"
          "Set the frozen depth so that **only the last 2 blocks** (and the head) learn. Write the number; the "
          "cell moves the panel's slider to it, so scroll up and look at the picture.")),
    exercise("l2_last_two",
             blank=("frozen_depth = None  # a whole number of frozen blocks\n"
                    "if frozen_depth is not None:\n"
                    "    freeze.slider.value = frozen_depth\n"
                    "print(freeze.trainable)\n"
                    "ex_depth.check(frozen_depth)"),
             solution=("frozen_depth = blocks.n_blocks - 2\n"
                       "freeze.slider.value = frozen_depth\n"
                       "print(freeze.trainable)\n"
                       "ex_depth.check(frozen_depth)"),
             wrong=("frozen_depth = 2\n"
                    "freeze.slider.value = frozen_depth\n"
                    "print(freeze.trainable)\n"
                    "ex_depth.check(frozen_depth)")),
    md(N_("### The two-phase recipe\n\n"
          "1. **Head first.** Keep every block frozen and train only the new head. A fresh head makes big, random "
          "changes at first; with the blocks frozen those cannot spoil what the blocks know.\n"
          "2. **Then fine-tune the top blocks** (here the last 2, the depth you just set) with a **small learning "
          "rate** (a tenth of the first), so their weights move only a little towards your pictures.\n\n"
          "The workbench does both phases in one run: `epochs` for the head, then `fine_tune_epochs`.")),
    code(f"""
session.epochs = sized(10, 5)
session.fine_tune_epochs = sized(4, 2)
session.fine_tune_lr_factor = 0.1
run = lw.train(session.to_config())
history = pd.DataFrame(run.history)
head = history[history.phase == "head"]
fine = history[history.phase == "fine_tune"]
figure = go.Figure(layout=dict(title=_({PHASE_CHART!r}), xaxis_title=_({EPOCH!r}), yaxis_title=_({VAL_ACCURACY!r}),
                               yaxis=dict(range=[0, 1], tickformat=".0%"), height=340, width=620))
figure.add_scatter(x=head.epoch, y=head.val_accuracy, mode="lines+markers", name=_({PHASE_HEAD!r}))
figure.add_scatter(x=fine.epoch, y=fine.val_accuracy, mode="lines+markers", name=_({PHASE_FINE!r}))
figure.show()
head_best, fine_best = head.val_accuracy.max(), fine.val_accuracy.max()
print(_({SUMMARY_LINE!r}).format(head=head_best, fine=fine_best, test=run.metrics["accuracy"]))"""),
    md(N_("### What to remember\n\n"
          "- Freezing more blocks means fewer trainable parameters: faster training, and less room to overfit "
          "few pictures.\n"
          "- Fine-tuning the top blocks lets the network adapt to pictures unlike ImageNet's, but train the head "
          "first, and fine-tune with a small learning rate.\n"
          "- With very few pictures, fine-tuning may gain little or nothing: compare the two phases on the "
          "validation pictures before you keep it.")),
    code("""
claim("trainable_falls_with_depth", falls=falls, trainable=trainable, n_blocks=blocks.n_blocks,
      last_two=blocks.trainable_at(blocks.n_blocks - 2), head_only=blocks.trainable_at(blocks.n_blocks),
      head_val_accuracy=head_best, fine_tune_val_accuracy=fine_best, test_accuracy=run.metrics["accuracy"])"""),
]

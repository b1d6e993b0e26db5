"""Lesson 5: across scenarios — your own finished run as the backbone of the next one (digits 0–4 seed 5–9)."""

from cells import code, exercise, md

from lepton_widgets.i18n import N_

SLUG = "05_your_run_as_a_backbone"
TITLE = N_("Lesson 5 · Across scenarios: your own run as a backbone")

RIGHT_SEEDED = N_("The run seeded with the digits 0–4 model already knows strokes, loops and corners, so "
                  "a few examples of each new digit are enough to name them.")
WRONG_SEEDED = N_("Look at the two accuracies. With so few examples, the network from scratch "
                  "has to learn what a stroke is first; the seeded one already knows.")
RIGHT_HEAD = N_("The backbone is copied from the 0–4 run, but the head is new and has one output per new "
                "class: 5, 6, 7, 8 and 9.")
WRONG_HEAD = N_("Count the classes of the NEW task. The old head (for 0–4) is left behind; only the backbone is "
                "reused.")

CELLS = [
    md(N_("So far the backbone came from ImageNet. But **any finished run can be a backbone**: a model you "
          "trained on one scenario (one factory line, one set of classes) can start the next one.\n\n"
          "Here the first scenario is handwritten digits **0–4**, with plenty of examples. The second scenario is "
          "digits **5–9**, with only a handful of examples of each. We train the second one twice, on exactly the "
          "same few pictures: once starting from the 0–4 run, once from scratch.")),
    code("""
import lepton_widgets as lw
from lepton_widgets.i18n import N_
from lepton_widgets.panels.glossary import words_used_here

display(words_used_here(["backbone", "head", "from_scratch", "transfer_learning"]))
SMALL_NET = {"name": "small_cnn", "weights": "none", "image_size": 32, "frozen_depth": 0}
TRAIN = {"batch_size": 16, "early_stopping_patience": 0, "fine_tune_lr_factor": 1.0, "learning_rate": 3e-3}

first = lw.train({
    "name": "digits-0-4", "seed": 7,
    "data": {"dataset": "digits", "classes": [0, 1, 2, 3, 4], "max_per_class": sized(120, 60)},
    "backbone": SMALL_NET,
    "train": {**TRAIN, "epochs": 1, "fine_tune_epochs": 10},
})
print("digits 0-4:", first.status, "accuracy", round(first.metrics["accuracy"], 3))
"""),
    md(N_("The second scenario keeps few pictures for training (about 6 per digit) and many for the test, so "
          "that the comparison is not decided by two or three test pictures.\n\n"
          "A finished run is used as a backbone by writing `run:` and its folder (or its id) as the weights.")),
    code("""
NEW_DATA = {"dataset": "digits", "classes": [5, 6, 7, 8, 9], "max_per_class": 40,
            "val_fraction": 0.4, "test_fraction": 0.45}
seeds = sized([7, 8, 9], [7])

def seeded_config(seed):
    return {"name": f"5-9-seeded-{seed}", "seed": seed, "data": NEW_DATA,
            # the 0-4 run's backbone, all its blocks frozen: only a new head learns
            "backbone": {**SMALL_NET, "weights": f"run:{first.path}", "frozen_depth": None},
            "train": {**TRAIN, "epochs": 15, "fine_tune_epochs": 0, "learning_rate": 1e-2}}

def scratch_config(seed):
    # the same network, every block learning, for as many epochs
    return {"name": f"5-9-scratch-{seed}", "seed": seed, "data": NEW_DATA, "backbone": SMALL_NET,
            "train": {**TRAIN, "epochs": 1, "fine_tune_epochs": 14}}
"""),
    md(N_("### Exercise 1\n\n"
          "Predict before you run: with only a few examples of 5–9, which run scores higher on the test pictures, "
          "`\"seeded\"` (starting from the 0–4 run) or `\"scratch\"`? Write your prediction down now, run the "
          "training cells, then write it in the answer cell after the results and check it.")),
    code("""
seeded = [lw.train(seeded_config(seed)) for seed in seeds]
scratch = [lw.train(scratch_config(seed)) for seed in seeds]
compare = lw.list_runs()[["run_id", "status", "accuracy"]]
compare[compare["run_id"].str.contains("5-9")]
"""),
    code(f"""
import numpy as np

seeded_accuracy = float(np.mean([r.metrics["accuracy"] for r in seeded]))
scratch_accuracy = float(np.mean([r.metrics["accuracy"] for r in scratch]))
print(f"seeded {{seeded_accuracy:.3f}}   scratch {{scratch_accuracy:.3f}}")
winner = "seeded" if seeded_accuracy > scratch_accuracy else "scratch"
which = Exercise("l5_predict", accept=lambda a: str(a).strip().lower() == winner,
                 right=N_({RIGHT_SEEDED!r}), wrong=N_({WRONG_SEEDED!r}))
"""),
    exercise("l5_predict",
             blank='prediction = None  # "seeded" or "scratch": what you predicted before training\nwhich.check(prediction)',
             solution='prediction = "seeded"\nwhich.check(prediction)',
             wrong='prediction = "scratch"\nwhich.check(prediction)'),
    md(N_("### Exercise 2\n\n"
          "The seeded run reused the backbone of the 0–4 run. How many outputs does its **head** (the last layer, "
          "the one that picks a class) have? Write a number.")),
    code(f"""
head = seeded[0].load_model().get_layer("classifier")
outputs = Exercise("l5_head", accept=lambda a: int(a) == head.units, right=N_({RIGHT_HEAD!r}),
                   wrong=N_({WRONG_HEAD!r}))
"""),
    exercise("l5_head",
             blank="answer = None  # a number\noutputs.check(answer)",
             solution="answer = 5\noutputs.check(answer)",
             wrong="answer = 10\noutputs.check(answer)"),
    md(N_("## What we measured\n\n"
          "On the same few pictures of 5–9, the run seeded with your own 0–4 model scored higher than the same "
          "network trained from scratch. In a factory, the model of one line can start the next line the same "
          "way.")),
    code("""
claim("seeded_vs_scratch", seeded=seeded_accuracy, scratch=scratch_accuracy,
      gain=seeded_accuracy - scratch_accuracy, seeds=seeds, first_accuracy=float(first.metrics["accuracy"]),
      head_units=int(head.units))
"""),
]

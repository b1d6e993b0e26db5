"""Lesson 1: what transfer learning is. The same network (MobileNetV2) on the same few pictures, once with
the ImageNet weights it learnt elsewhere (its blocks frozen, a new head on top) and once from random weights
(every layer trained), side by side. Claim: the pretrained network wins here by a wide margin."""

from cells import code, exercise, md

from lepton_widgets.i18n import N_

SLUG = "01_what_transfer_learning_is"
TITLE = N_("Lesson 1 · What transfer learning is")

PRETRAINED = N_("pretrained (ImageNet weights)")
SCRATCH = N_("from scratch (random weights)")
NETWORK = N_("network")
ACCURACY = N_("test accuracy")
CHART_TITLE = N_("The same network on the same pictures")
GAP_LINE = N_("The pretrained network wins by {points:.0f} points.")

WINNER_RIGHT = N_("The pretrained network starts with blocks that already find edges, textures and shapes in "
                  "pictures (learnt from 1.2 million ImageNet photos). With a few dozen pictures per class, only its "
                  "small new head has to learn. The network from scratch must learn everything from these few "
                  "pictures, which is far too few.")
WINNER_WRONG = N_("Think about what each network knows before it sees your pictures: one has already learnt from "
                  "1.2 million photos, the other knows nothing yet and has only a few dozen pictures per class.")
GAP_RIGHT = N_("That is the gap in the table: with few pictures, borrowing what a network learnt elsewhere is worth "
               "many points of accuracy. That is transfer learning.")
GAP_WRONG = N_("Read both accuracies in the table above, subtract, and write the difference in points "
               "(0.72 - 0.10 is 62 points). A rough number is fine: within 5 points counts.")

CELLS = [
    md(N_("**Transfer learning** means starting from a network that has already learnt something useful on "
          "other data, instead of starting from nothing.\n\n"
          "In this lesson you train **the same network**, MobileNetV2, on **the same few pictures** of clothes "
          "(Fashion-MNIST: shirts, trousers, shoes...) in two ways:\n\n"
          "1. **Pretrained**: it starts with the weights it learnt on ImageNet, 1.2 million photos of everyday "
          "things. Its blocks stay frozen and only a new, small *head* (the last layer, which picks the class) "
          "learns your classes.\n"
          "2. **From scratch**: it starts with random weights, and every layer learns from your pictures alone.\n\n"
          "Both use only a few dozen pictures per class. Then we compare their accuracy on test pictures they "
          "never saw.")),
    code("""
import lepton_widgets as lw
from lepton_widgets.i18n import _

PER_CLASS = 20              # pictures per class (before a few are kept aside for validation and testing)
SIZE = sized(96, 32)        # pictures are resized to SIZE x SIZE pixels
EPOCHS = sized(10, 3)       # passes over the pictures for the network from scratch


def settings(weights):
    \"\"\"The same network and the same pictures; only the starting weights differ.\"\"\"
    config = {"name": f"lesson1-{weights}",
              "data": {"dataset": "fashion_mnist", "max_per_class": PER_CLASS},
              "backbone": {"name": "mobilenet_v2", "weights": weights, "image_size": SIZE}}
    if weights == "offline":
        # Pretrained: every block frozen, a new head fitted on what the blocks see.
        config["train"] = {"head_fit": "logistic", "fine_tune_epochs": 0}
    else:
        # From scratch: every block trains.
        config["train"] = {"epochs": EPOCHS, "fine_tune_epochs": 0}
    return config


print(lw.RunConfig.from_dict(settings("offline")).to_yaml())"""),
    md(N_("### Exercise 1 · Predict first\n\n"
          "Before you train anything: which network will be more accurate on the test pictures, the "
          "**pretrained** one or the one **from scratch**? Write `\"pretrained\"` or `\"scratch\"`, then run the "
          "cell.")),
    code(f"""
ex_winner = Exercise("l1_winner", accept=lambda a: str(a).strip().lower().startswith("pre"),
                     right={WINNER_RIGHT!r},
                     wrong={WINNER_WRONG!r})
ex_gap = Exercise("l1_gap", accept=lambda a: abs(float(a) - gap_points) <= 5,
                  right={GAP_RIGHT!r},
                  wrong={GAP_WRONG!r})"""),
    exercise("l1_winner",
             blank='winner = None  # "pretrained" or "scratch"\nex_winner.check(winner)',
             solution='winner = "pretrained"\nex_winner.check(winner)',
             wrong='winner = "scratch"\nex_winner.check(winner)'),
    md(N_("### Train both\n\n"
          "The pretrained network needs seconds: its frozen blocks look at each picture once and only the head "
          "learns. The network from scratch trains every layer many times over, so it takes longer.")),
    code("""
pretrained = lw.train(settings("offline"))
scratch = lw.train(settings("none"))
print(pretrained.run_id, scratch.run_id)"""),
    code(f"""
import pandas as pd
import plotly.graph_objects as go

names = [_({PRETRAINED!r}), _({SCRATCH!r})]
accuracies = [pretrained.metrics["accuracy"], scratch.metrics["accuracy"]]
gap_points = 100 * (accuracies[0] - accuracies[1])
table = pd.DataFrame({{_({NETWORK!r}): names, _({ACCURACY!r}): [round(a, 3) for a in accuracies]}})
display(table)
go.Figure(go.Bar(x=names, y=accuracies, text=[f"{{a:.0%}}" for a in accuracies], marker_color=["#2ca02c", "#7f7f7f"]),
          layout=dict(title=_({CHART_TITLE!r}), yaxis=dict(range=[0, 1], tickformat=".0%"),
                      height=320, width=520)).show()"""),
    md(N_("### Exercise 2 · By how much?\n\n"
          "Read the table: by how many **points** of accuracy did the pretrained network win? (An accuracy of "
          "0.72 is 72 points.) Write the number.")),
    exercise("l1_gap",
             blank="gap = None  # a number of points, e.g. 25\nex_gap.check(gap)",
             solution="gap = round(gap_points)\nex_gap.check(gap)",
             wrong="gap = 0\nex_gap.check(gap)"),
    md(N_("### What to remember\n\n"
          "- A network learnt on lots of other pictures already knows how to *see*; with few pictures of your "
          "own, reuse it and train only a new head.\n"
          "- The same network from scratch needs far more pictures before it can compete.\n"
          "- Try it: set `PER_CLASS` to 10 or to 100 in the first cell and run everything again. Does the gap "
          "shrink or grow?")),
    code(f"""
print(_({GAP_LINE!r}).format(points=gap_points))
claim("pretrained_vs_scratch", pretrained=accuracies[0], scratch=accuracies[1], gap_points=gap_points,
      per_class=PER_CLASS, image_size=SIZE)"""),
]

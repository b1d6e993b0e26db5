"""Lesson 6: beyond pictures — sounds as spectrograms, texts with a pretrained encoder, and tables."""

from cells import code, exercise, md

from lepton_widgets.i18n import N_

SLUG = "06_beyond_pictures"
TITLE = N_("Lesson 6 · Beyond pictures: sounds, texts and tables")

RIGHT_SOUND = N_("A sound becomes a spectrogram, a picture of which pitches are loud at each moment. "
                 "From then on the same picture networks can learn from it.")
WRONG_SOUND = N_("The network never sees the raw wave: look at the picture drawn above, with time "
                 "from left to right and pitch from bottom to top.")
RIGHT_TEXT = N_("GloVe learned the meaning of words from billions of words of other text before it ever "
                "saw these reviews. TF-IDF only counts the words of your own data.")
WRONG_TEXT = N_("Think about where each one learns from: TF-IDF counts the words in your own reviews, so it has "
                "nothing before your data arrives.")

CELLS = [
    md(N_("Transfer learning is not only for photos. In this lesson we train three small models:\n\n"
          "1. **sounds**: ten spoken words (yes, no, up, down...), made with a speech synthesiser;\n"
          "2. **texts**: food reviews, great or not, read with GloVe word vectors learned from other texts;\n"
          "3. **tables**: measurements of breast tumours, malignant or benign.\n\n"
          "Each run is short. For each one we compare the model with the simplest guess there is: always "
          "answering the most common class (the **majority baseline**). A model is only useful if it beats it.")),
    code("""
import numpy as np
import lepton_widgets as lw
from lepton_widgets.i18n import N_
from lepton_widgets.panels.glossary import words_used_here

display(words_used_here(["spectrogram", "text_encoder", "tfidf", "pretrained", "accuracy"]))

def majority_baseline(run):
    \"\"\"Accuracy of always answering the most common class of the test split.\"\"\"
    truth = run.predictions["true"]
    return float(truth.value_counts(normalize=True).iloc[0])

results = {}
"""),
    md(N_("## 1. Sounds\n\n"
          "Each clip of one second is turned into a **spectrogram**: a picture with time from left to right, "
          "pitch from bottom to top, and brightness for loudness. Here is one.")),
    code("""
import io
import ipywidgets as widgets
from PIL import Image
from lepton_widgets.core.data.audio.keywords import keywords_dir
from lepton_widgets.core.data.audio.spectrogram import fit_length, log_mel_images
from lepton_widgets.core.data.audio.wav import read_wav

sound_cfg = {
    "name": "spoken-words", "seed": 7,
    "data": {"dataset": "spoken_keywords", "max_per_class": sized(60, 30)},
    "backbone": {"name": "small_cnn", "weights": "none", "image_size": 32, "frozen_depth": 0},
    "train": {"epochs": 1, "fine_tune_epochs": sized(12, 8), "batch_size": 16, "early_stopping_patience": 0,
              "fine_tune_lr_factor": 1.0, "learning_rate": 3e-3},
    "augment": {"time_shift": 0.1, "gain_db": 6.0, "time_mask": 0.1},
}
sound = lw.train(sound_cfg)   # the first time, this also synthesises the clips (a few seconds)
clip = sorted(keywords_dir().rglob("*.wav"))[0]
wave, _note = fit_length(read_wav(clip).samples)
buffer = io.BytesIO()
Image.fromarray(log_mel_images(wave[None])[0]).resize((392, 192)).save(buffer, "PNG")
display(widgets.VBox([widgets.Label(f"'{clip.parent.name}': time ->, pitch ^"), widgets.Image(value=buffer.getvalue())]))
results["sounds"] = (sound.metrics["accuracy"], majority_baseline(sound))
print(f"sounds: accuracy {results['sounds'][0]:.3f}, majority baseline {results['sounds'][1]:.3f}")
"""),
    md(N_("### Exercise 1\n\n"
          "What does a sound become before the network sees it? Answer with one word: `\"wave\"`, "
          "`\"spectrogram\"` or `\"text\"`.")),
    code(f"""
sound_becomes = Exercise("l6_sound", accept=lambda a: str(a).strip().lower() == "spectrogram",
                         right=N_({RIGHT_SOUND!r}), wrong=N_({WRONG_SOUND!r}))
"""),
    exercise("l6_sound",
             blank='answer = None  # "wave", "spectrogram" or "text"\nsound_becomes.check(answer)',
             solution='answer = "spectrogram"\nsound_becomes.check(answer)',
             wrong='answer = "wave"\nsound_becomes.check(answer)'),
    md(N_("## 2. Texts\n\n"
          "A **text encoder** turns words into numbers. GloVe gives each word a list of 50 numbers learned "
          "beforehand from billions of words of other text, so words with close meanings get close numbers "
          "(\"tasty\" is near \"delicious\"). Our small network reads the reviews through those vectors.")),
    code("""
text_cfg = {
    "name": "food-reviews", "seed": 7,
    "data": {"dataset": "food_reviews", "max_per_class": sized(300, 200), "test_fraction": 0.25},
    "backbone": {"name": "glove_6b_50d", "sequence_length": sized(96, 64)},
    "train": {"epochs": 25, "learning_rate": 3e-3, "batch_size": 32, "early_stopping_patience": 5},
}
text = lw.train(text_cfg)
results["texts"] = (text.metrics["accuracy"], majority_baseline(text))
print(f"texts: accuracy {results['texts'][0]:.3f}, majority baseline {results['texts'][1]:.3f}")
"""),
    md(N_("### Exercise 2\n\n"
          "Two ways to turn a review into numbers: **GloVe** vectors, or **TF-IDF** (counting the words of your "
          "own reviews, weighted by how rare they are). Which one already knows something about words before it "
          "sees any of your data? Answer `\"glove\"` or `\"tfidf\"`.")),
    code(f"""
knows_before = Exercise("l6_text", accept=lambda a: str(a).strip().lower().replace("-", "") == "glove",
                        right=N_({RIGHT_TEXT!r}), wrong=N_({WRONG_TEXT!r}))
"""),
    exercise("l6_text",
             blank='answer = None  # "glove" or "tfidf"\nknows_before.check(answer)',
             solution='answer = "glove"\nknows_before.check(answer)',
             wrong='answer = "tfidf"\nknows_before.check(answer)'),
    md(N_("## 3. Tables\n\n"
          "A table has one row per example and one column per measurement. There is no pretrained backbone for "
          "your own columns, so a small network learns from the rows directly; each column is scaled first.")),
    code("""
table_cfg = {
    "name": "breast-cancer", "seed": 1,
    "data": {"dataset": "breast_cancer", "max_per_class": None},
    "train": {"epochs": sized(30, 8), "learning_rate": 3e-3, "batch_size": 32, "early_stopping_patience": 5},
}
table = lw.train(table_cfg)
results["tables"] = (table.metrics["accuracy"], majority_baseline(table))
print(f"tables: accuracy {results['tables'][0]:.3f}, majority baseline {results['tables'][1]:.3f}")
"""),
    md(N_("## What we measured\n\n"
          "For sounds, texts and tables alike, the model beat the simplest guess, always answering the most "
          "common class. The table below shows by how many points.")),
    code("""
import pandas as pd

summary = pd.DataFrame({kind: {"accuracy": acc, "majority baseline": base, "points above": 100 * (acc - base)}
                        for kind, (acc, base) in results.items()}).T.round(3)
display(summary)
claim("beyond_pictures", **{kind: {"accuracy": float(acc), "baseline": float(base)}
                            for kind, (acc, base) in results.items()})
"""),
]

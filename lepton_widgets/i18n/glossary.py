"""The glossary: each technical term the interface uses, with a plain-words explanation, in every language
the catalogue speaks (the entries are catalogue strings like any other).

Panels show a term with its tooltip via ``panels.glossary.term(key)`` and list the words they use with
``panels.glossary.words_used_here([...])``; the workbench's Glossary section and ``docs/glossary.md`` list all.

Example:
    >>> from lepton_widgets.i18n import set_language
    >>> from lepton_widgets.i18n.glossary import entry
    >>> chosen = set_language("en"); entry("epoch")[0]
    'epoch'
"""

from __future__ import annotations

from lepton_widgets.i18n import N_, _

#: key -> (the term, its plain-words meaning). Keys are stable; the words are translated when shown.
TERMS: dict[str, tuple[str, str]] = {
    "transfer_learning": (N_("transfer learning"), N_(
        "Starting from a network that already learned from millions of pictures, sounds or texts, and teaching "
        "it your own classes, instead of starting from nothing.")),
    "backbone": (N_("backbone"), N_(
        "The pretrained network whose learned features the new model reuses, such as MobileNetV2.")),
    "pretrained": (N_("pretrained"), N_(
        "Already trained on a large collection (for pictures: ImageNet), so it knows general shapes and textures.")),
    "from_scratch": (N_("from scratch"), N_(
        "Starting with random weights: the network knows nothing and learns only from your examples.")),
    "head": (N_("head"), N_("The small new layer on top of the backbone that picks one of your classes.")),
    "frozen_depth": (N_("frozen depth"), N_(
        "How many of the backbone's blocks stay unchanged while training. Frozen blocks keep what they learned "
        "before; the blocks above them adapt to your data.")),
    "fine_tuning": (N_("fine-tuning"), N_(
        "The second phase: after the head has learned, a few top blocks of the backbone are unfrozen and "
        "trained gently, with a small learning rate.")),
    "trainable_parameters": (N_("trainable parameters"), N_(
        "The numbers in the network that training is allowed to change. Fewer of them train faster and "
        "overfit less.")),
    "augmentation": (N_("augmentation"), N_(
        "Showing each training picture slightly changed (flipped, turned, zoomed) so the model learns what "
        "matters rather than memorising pixels.")),
    "epoch": (N_("epoch"), N_("One pass over all the training examples.")),
    "batch_size": (N_("batch size"), N_("How many examples the model looks at before each small correction.")),
    "learning_rate": (N_("learning rate"), N_(
        "How big each correction is. Too big and training jumps around; too small and it barely moves.")),
    "dropout": (N_("dropout"), N_(
        "Randomly ignoring some features during training so the model cannot lean on a few of them. It fights "
        "overfitting.")),
    "l2": (N_("L2 penalty"), N_("A small cost on large weights that keeps the model simple. It fights overfitting.")),
    "early_stopping": (N_("early stopping"), N_(
        "Stopping training when the validation score stops improving, and keeping the best epoch.")),
    "overfitting": (N_("overfitting"), N_(
        "When a model learns its training examples by heart: the training score keeps rising while the "
        "validation score stalls or falls.")),
    "validation": (N_("validation set"), N_(
        "Examples kept out of training and used to judge the model while choosing settings.")),
    "test_set": (N_("test set"), N_("Examples kept out until the end, to measure the final model once, honestly.")),
    "loss": (N_("loss"), N_("How wrong the model is on average; training makes it smaller. Lower is better.")),
    "accuracy": (N_("accuracy"), N_("The share of examples the model gets right.")),
    "macro_f1": (N_("macro F1"), N_(
        "A score from 0 to 1 that weighs every class equally, so a rare class counts as much as a common one.")),
    "confusion_matrix": (N_("confusion matrix"), N_(
        "A table of true class against predicted class: the diagonal is right, everything else shows which "
        "classes get mixed up.")),
    "grad_cam": (N_("Grad-CAM"), N_("A heat map of the parts of a picture that most influenced the model's answer.")),
    "confidence": (N_("confidence"), N_(
        "The model's own estimate of how sure it is, from 0 to 100%. It is not a guarantee.")),
    "calibration": (N_("calibration (ECE)"), N_(
        "Whether the model's confidence matches how often it is right. ECE is the average gap; lower is better.")),
    "logme": (N_("LogME"), N_(
        "A quick score of how well a backbone's features fit your classes, computed without training. "
        "Higher means a better starting point.")),
    "adversarial": (N_("adversarial training (FGSM)"), N_(
        "Training on examples nudged in the direction that fools the model most (FGSM), so small "
        "disturbances fool it less.")),
    "robustness": (N_("robustness"), N_("How well the model keeps its accuracy when its input is noisy or disturbed.")),
    "search": (N_("search"), N_("Trying many combinations of settings automatically and keeping the best (KerasTuner).")),
    "ensemble": (N_("ensemble"), N_("Several models voting together; often more accurate than any one of them.")),
    "incremental_update": (N_("incremental update"), N_(
        "Teaching an existing model new examples or new classes while replaying some old ones, so it does not "
        "forget what it knew.")),
    "export": (N_("export"), N_(
        "Saving the model in a file format other programs and phones can use, and checking it gives the same "
        "answers.")),
    "quantisation": (N_("quantisation (int8)"), N_(
        "Storing the model's numbers with fewer digits: a file about four times smaller, nearly as accurate.")),
    "spectrogram": (N_("spectrogram"), N_(
        "A picture of a sound: time from left to right, pitch from bottom to top, loudness as colour.")),
    "text_encoder": (N_("text encoder"), N_(
        "A pretrained network that turns a sentence into numbers that capture its meaning (MiniLM, GloVe).")),
    "tfidf": (N_("TF-IDF"), N_("Counting words, weighted by how rare they are: a simple text baseline without pretraining.")),
    "class_weight": (N_("class weights"), N_("Making mistakes on rare classes count more, so the model does not ignore them.")),
    "label_issues": (N_("likely wrong labels"), N_(
        "Examples whose label disagrees with what a model trained on the rest predicts; worth checking by eye.")),
    "run": (N_("run"), N_("One training, kept as a folder with its settings, curves, model and scores.")),
}


def entry(key: str) -> tuple[str, str]:
    """(term, plain words) for ``key`` in the current language; a KeyError names the known keys."""
    try:
        term, meaning = TERMS[key]
    except KeyError:
        raise KeyError(f"no glossary term {key!r}; known: {sorted(TERMS)}") from None
    return _(term), _(meaning)


def entries() -> list[tuple[str, str, str]]:
    """(key, term, plain words) for every term, in the current language, sorted by the term as shown."""
    return sorted(((key, *entry(key)) for key in TERMS), key=lambda row: row[1].lower())


def markdown() -> str:
    """The glossary in every language as one Markdown page (``docs/glossary.md``), English then Chinese."""
    from lepton_widgets.i18n import LANGUAGES, language, set_language

    previous = language()
    parts = ["# Glossary · 术语表\n\nWritten from `lepton_widgets/i18n/glossary.py` by "
             "`python -m lepton_widgets.i18n.glossary > docs/glossary.md`.\n"]
    try:
        for code, name in LANGUAGES.items():
            set_language(code)
            parts.append(f"\n## {name}\n\n| | |\n|---|---|\n")
            parts.extend(f"| **{word}** | {meaning} |\n" for _key, word, meaning in entries())
    finally:
        set_language(previous)
    return "".join(parts)


if __name__ == "__main__":
    print(markdown(), end="")

"""What export and model cards need from a text run: its check batch (raw strings for GloVe, the run's own
WordPiece token ids for MiniLM), the formats a GloVe model cannot go to, and the card's words for texts.

Why GloVe models do not go to TFLite or ONNX: the model reads strings through ``TextVectorization``, whose
lower-casing, punctuation stripping and splitting are TensorFlow string ops (``StringLower``,
``StaticRegexReplace``, ``StringSplitV2``) that TFLite's built-in op set lacks, and tf2onnx converts neither
them nor the vocabulary's hash table. A MiniLM model (token ids in) converts to every format.

Example:
    >>> from lepton_widgets.core.tasks import task_named
    >>> sorted(task_named("text").export_unavailable({"encoder": "glove_6b_50d"}))
    ['onnx', 'tflite', 'tflite-f16', 'tflite-int8']
    >>> task_named("text").export_unavailable({"tokenizer": {"vocabulary": "tokenizer/vocab.txt"}})
    {}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lepton_widgets.core.tasks.exporting import normalization_as_constants

FACTS_FILE = "text.json"
TFLITE_FORMATS = ("tflite", "tflite-f16", "tflite-int8")
GLOVE_TFLITE = ("a GloVe text model reads raw strings through a TextVectorization layer, whose lower-casing, "
                "punctuation stripping and splitting (StringLower, StaticRegexReplace, StringSplitV2) are "
                "TensorFlow ops that TFLite's built-in op set lacks (they would need the Flex delegate, which "
                "stock TFLite runtimes do not have); use the keras or savedmodel export")
GLOVE_ONNX = ("a GloVe text model reads raw strings through a TextVectorization layer: tf2onnx 1.17 cannot "
              "convert its string ops (StaticRegexReplace, StringSplitV2) nor its vocabulary table "
              "(LookupTableFindV2); use the keras or savedmodel export")
NOT_VALIDATED = ("texts of other classes (it will still pick one of its classes), other languages, sources or "
                 "writing styles than the training texts, deliberately altered texts")


def export_unavailable(facts: dict) -> dict[str, str]:
    if "tokenizer" not in facts:  # GloVe: strings in
        return {**{name: GLOVE_TFLITE for name in TFLITE_FORMATS}, "onnx": GLOVE_ONNX}
    return {}


def export_inputs(record, n: int, rng):
    """``n`` seeded test texts in the form the run's model takes, with training texts for int8."""
    from lepton_widgets.core.tasks.exporting import (REPRESENTATIVE_ROWS, ReferenceInputs, data_info, rows,
                                                   run_json, sample)
    from lepton_widgets.core.tasks.text.data import prepare_texts

    cfg = record.config
    data = prepare_texts(cfg.data, cfg.seed)
    (test, texts), (_, train_texts) = data.split("test"), data.split("train")
    if not len(test):
        raise ValueError(f"run {record.run_id} has an empty test split: no held-out texts to check exports on")
    positions = sample(len(test), n, rng)
    test, texts = rows(test, positions), [texts[i] for i in positions]
    calibration = [train_texts[i] for i in sample(len(train_texts), REPRESENTATIVE_ROWS, rng)]
    info = run_json(record, FACTS_FILE)
    length = int(info.get("sequence_length") or cfg.backbone.sequence_length)
    meta = {"modality": "text", "encoder": info.get("encoder", cfg.backbone.name), "sequence_length": length}
    refs = ReferenceInputs("text", None, test.label_indices(), info=data_info(record, prepared=data.prepared),
                           meta=meta)
    if "tokenizer" not in info:  # GloVe: the model tokenises the strings itself
        import tensorflow as tf

        refs.inputs = np.array(texts, dtype=object)
        refs.representative = np.array(calibration, dtype=object) if calibration else None
        refs.signature = [tf.TensorSpec((None,), tf.string, name="text")]
        meta["input"] = (f"raw UTF-8 strings, shape (N,): one text each; the model lower-cases, strips "
                         f"punctuation, splits on whitespace and keeps the first {length} words")
        return refs
    from lepton_widgets.core.tasks.text.encoder import tokenize, tokenizer_from_vocabulary

    tok = info["tokenizer"]
    # the run's own tokeniser, as load_text_run rebuilds it (without loading the model a second time)
    tokenizer = tokenizer_from_vocabulary(record.path / tok["vocabulary"], lowercase=tok["lowercase"],
                                          strip_accents=tok["strip_accents"])
    refs.inputs, _ = tokenize(tokenizer, texts, length)
    refs.representative = tokenize(tokenizer, calibration, length)[0] if calibration else None
    refs.signature = [_int_signature(refs.inputs, length)]
    folder = Path(tok["vocabulary"]).parent
    refs.assets = {str(folder): record.path / folder}
    meta["tokenizer"] = {"vocabulary": tok["vocabulary"], "lowercase": tok["lowercase"],
                         "strip_accents": tok["strip_accents"], "kind": "WordPiece (keras_hub BertTokenizer)"}
    meta["input"] = (f"int32 token_ids, segment_ids, padding_mask, each (N, {length}): the texts tokenised with "
                     f"the WordPiece vocabulary in {tok['vocabulary']} ([CLS] text [SEP], padded or cut to "
                     f"{length}; padding_mask 1 on real tokens)")
    return refs


def _int_signature(inputs: dict, length: int) -> dict:
    import tensorflow as tf

    return {name: tf.TensorSpec((None, length), tf.int32, name=name) for name in inputs}


def card_facts(card: dict, inputs: dict) -> None:
    """A text card: what it classifies and takes, the encoder and sequence length, the shipped tokeniser."""
    card.update(modality="text", input=inputs.get("input", ""), image_size=None,
                intended_use="Classify texts into the classes below; it always answers one of them.")
    backbone = card["backbone"]
    for key in ("image_size", "frozen_depth"):
        backbone.pop(key, None)
    backbone.update(encoder=inputs.get("encoder"), sequence_length=inputs.get("sequence_length"))
    if inputs.get("tokenizer"):
        card["tokenizer"] = inputs["tokenizer"]


def card_trained_at(card: dict) -> str:
    unit = "words" if "tokenizer" not in card else "word pieces"
    return (f"; texts are cut to {card['backbone'].get('sequence_length')} {unit}, so the end of a longer text "
            "is never seen.")


def card_model_line(card: dict) -> str:
    backbone = card["backbone"]
    return (f"- Encoder: `{backbone['encoder']}`, weights `{backbone['weights']}`, sequence length "
            f"{backbone['sequence_length']}, head units {backbone['head_units']}")


#: The model as exported: its Normalization layers' statistics folded into constants.
inference_model = normalization_as_constants

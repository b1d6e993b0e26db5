"""The text part of model fusion: members read the shared split's texts as their models take them.

``core/fusion`` reaches it through ``task.fusion_kit()``. A GloVe model reads the strings themselves, a
MiniLM model token ids cut to its sequence length (``predict.load_text_run`` gives the tokeniser), so the
members of one fused model must share the encoder (and, for MiniLM, the sequence length): one fused model
takes one kind of input. Soup members also share the starting weights and the head. The fused run is a text
run like any other: ``run.json`` says ``"modality": "text"``, and it carries the best member's ``text.json``
(and tokeniser), so ``predict_texts`` and ``lepton predict`` read it as they read its members.

Example:
    >>> from types import SimpleNamespace
    >>> from lepton_widgets.config import RunConfig
    >>> glove = SimpleNamespace(config=RunConfig.from_dict({"backbone": {"name": "glove_6b_50d"}}))
    >>> TextFusionKit().input_fields(glove)
    {'encoder': 'glove_6b_50d'}
"""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.fusing import FusionKit, InMemoryFusionData
from lepton_widgets.core.tasks.text.encoder import text_encoder_name
from lepton_widgets.core.tasks.text.glove import GLOVE_BACKBONE

TEXT_FILE = "text.json"


class TextFusionData(InMemoryFusionData):
    """The split's texts, turned into model inputs by the first member's reader (strings or token ids)."""

    def __init__(self, data, job=None) -> None:
        super().__init__(data.prepared, {}, job)
        self.data = data

    def load_model(self, record):
        from lepton_widgets.core.tasks.text.predict import load_text_run

        model, tokenizer, length = load_text_run(record)
        if not self.inputs:  # members share the encoder and length (input_fields): the first one's reader serves all
            self.inputs = {name: self._read(tokenizer, length, name) for name in ("train", "val", "test")}
        return model

    def _read(self, tokenizer, length: int, split: str):
        texts = self.data.split(split)[1]
        if tokenizer is None:  # GloVe: the model reads the strings
            import tensorflow as tf

            return tf.constant(texts, dtype=tf.string)
        from lepton_widgets.core.tasks.text.encoder import tokenize

        return tokenize(tokenizer, texts, length)[0]

    def distill(self, student, cfg, soft_labels, epochs):
        freeze_like_member(student, cfg)
        return super().distill(student, cfg, soft_labels, epochs)

    def write_run_files(self, writer, base) -> None:
        writer.extra.update(modality="text", encoder=base.info.get("encoder"))
        info = json.loads((base.path / TEXT_FILE).read_text(encoding="utf-8"))
        writer.write_json(TEXT_FILE, info)
        if "tokenizer" in info:  # MiniLM: the tokeniser travels with the run
            folder = (base.path / info["tokenizer"]["vocabulary"]).parent
            shutil.copytree(folder, writer.path / folder.name)


def freeze_like_member(student, cfg) -> None:
    """Let the student train what its member's last phase trained: the head alone, or the blocks
    ``backbone.frozen_depth`` unfroze when the member fine-tuned. (A loaded model does not keep the flags
    of the layers inside MiniLM, so they are set again here.)"""
    import keras

    from lepton_widgets.core.tasks.text.model import freeze_to, frozen_layers
    from lepton_widgets.core.tasks.text.phases import encoder_blocks, planned_phases

    blocks = encoder_blocks(cfg)
    depth = frozen_layers(cfg.backbone.frozen_depth, blocks) if planned_phases(cfg)[-1][0] == "fine_tune" else blocks
    minilm = [layer for layer in student.layers if isinstance(layer, keras.Model)
              and any(sub.name == "transformer_layer_0" for sub in layer.layers)]
    if minilm:
        freeze_to(SimpleNamespace(backbone=minilm[0]), depth)  # freeze_to only reads the backbone
    for layer in student.layers:
        if isinstance(layer, keras.layers.Embedding):  # GloVe's one block
            layer.trainable = depth == 0


class TextFusionKit(FusionKit):
    """Texts: one encoder for all members; soups from one start."""

    def input_fields(self, record):
        encoder = text_encoder_name(record.config.backbone.name)
        fields = {"encoder": encoder}
        if encoder != GLOVE_BACKBONE:  # token ids: the tokeniser's cut must be the same for every member
            fields["backbone.sequence_length"] = record.config.backbone.sequence_length
        return fields

    def start_fields(self, record):
        cfg = record.config
        return {"encoder": text_encoder_name(cfg.backbone.name),
                "backbone.weights (the initial weights)": cfg.backbone.weights,
                "train.head_units": cfg.train.head_units}

    def load(self, records, job=None):
        from lepton_widgets.core.tasks.text.data import prepare_texts

        job = job or Job()
        config = records[0].config
        return TextFusionData(prepare_texts(config.data, config.seed, job=job), job)

"""The blocks of a text encoder, for the Freeze step: what each frozen depth leaves trainable.

:func:`lepton_widgets.core.tasks.image.blocks.block_summary` sends text encoders here, so the Freeze picture
and slider work for texts as for images, with numbers read off the real model a run builds:

* MiniLM: 6 blocks, its transformer layers; the first block also holds the embeddings, because they
  train only when nothing is frozen (``frozen_depth: 0``);
* GloVe: 1 block, the embedding, sized for GloVe's 20,000 most frequent words (a run adds its own
  training words, so its embedding is somewhat larger).

Example (builds MiniLM without its weights, a few seconds)::

    names, params, head, by_depth = text_blocks("all_minilm_l6_v2", num_classes=2)
    names[0], len(names), by_depth[-1] == head     # ('embeddings + transformer_layer_0', 6, True)
"""

from __future__ import annotations

from lepton_widgets.core.tasks.text.encoder import NUM_LAYERS, TEXT_BACKBONE, load_minilm
from lepton_widgets.core.tasks.text.glove import GLOVE_BACKBONE, load_glove, run_vocabulary


def text_blocks(encoder: str, num_classes: int) -> tuple[tuple[str, ...], tuple[int, ...], int, tuple[int, ...]]:
    """``(block names, parameters per block, head parameters, trainable parameters at each depth 0..n)``."""
    if encoder == GLOVE_BACKBONE:
        from lepton_widgets.core.tasks.text.glove_model import EMBEDDING, build_glove_classifier

        glove = load_glove()
        gm = build_glove_classifier(glove, run_vocabulary(glove, []), num_classes, sequence_length=128,
                                    dropout=0.0, l2=0.0, weights="none")
        by_depth = []
        for frozen in (False, True):
            gm.set_embedding_trainable(not frozen)
            by_depth.append(gm.trainable_params())
        names = (EMBEDDING,)
    elif encoder == TEXT_BACKBONE:
        from lepton_widgets.core.tasks.text.model import build_text_classifier, freeze_to

        backbone, _ = load_minilm("none")  # counts depend on the architecture only
        tm = build_text_classifier(backbone, num_classes, dropout=0.0, l2=0.0)
        by_depth = []
        for depth in range(NUM_LAYERS + 1):
            freeze_to(tm, depth)
            by_depth.append(tm.trainable_params())
        names = ("embeddings + transformer_layer_0",) + tuple(f"transformer_layer_{i}" for i in range(1, NUM_LAYERS))
    else:
        raise ValueError(f"{encoder!r} is not a text encoder")
    params = tuple(by_depth[i] - by_depth[i + 1] for i in range(len(names)))
    return names, params, by_depth[-1], tuple(by_depth)

"""Check, in the lab install, that MiniLM loads and tokenises: tensorflow-text (installed with ``--no-deps``
against tensorflow-cpu) must load its compiled ops into that TensorFlow, and keras-hub must read the offline
weights pack.

Run with the lab environment's Python (deploy/lab/check_offline_install.sh does)::

    /tmp/lepton-lab-venv/bin/python deploy/lab/check_text_encoder.py
    # MiniLM: ok (tokens [101, 2307, 5572, 999, 102], cosine similar 0.7..., unrelated 0.0...)
"""

from __future__ import annotations

import sys

import numpy as np

# bert-base-uncased word pieces, the vocabulary all-MiniLM-L6-v2 ships: [CLS] great tea ! [SEP]
EXPECTED_IDS = [101, 2307, 5572, 999, 102]


def main() -> int:
    import tensorflow as tf
    import tensorflow_text  # the compiled ops: this import fails if they do not match tensorflow-cpu

    from lepton_widgets.core.tasks.text.encoder import load_minilm, tokenize

    # one tensorflow-text op on its own, so that an ABI mismatch shows here and not deep inside keras-hub
    words = tensorflow_text.WhitespaceTokenizer().tokenize(tf.constant(["great tea"])).to_list()
    if words != [[b"great", b"tea"]]:
        print(f"tensorflow-text: unexpected tokens {words}", file=sys.stderr)
        return 1
    backbone, tokenizer = load_minilm()
    texts = ["Great tea!", "Wonderful tea, I loved it.", "The train leaves at nine."]
    inputs, _ = tokenize(tokenizer, texts, sequence_length=16)
    ids = [int(i) for i in inputs["token_ids"][0] if i != tokenizer.pad_token_id]
    if ids != EXPECTED_IDS:
        print(f"MiniLM tokeniser: {ids} instead of {EXPECTED_IDS}", file=sys.stderr)
        return 1
    hidden = np.asarray(backbone(inputs)["sequence_output"])
    mask = inputs["padding_mask"][..., None]
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    similar, unrelated = float(pooled[0] @ pooled[1]), float(pooled[0] @ pooled[2])
    # pretrained sentence embeddings put the two tea reviews closer than tea and trains; random weights do not
    if not similar > unrelated + 0.2:
        print(f"MiniLM embeddings look untrained: similar {similar:.3f}, unrelated {unrelated:.3f}", file=sys.stderr)
        return 1
    print(f"MiniLM: ok (tokens {ids}, cosine similar {similar:.3f}, unrelated {unrelated:.3f}; "
          f"tensorflow {tf.__version__}, tensorflow-text {tensorflow_text.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Weight-space soups (Wortsman et al. 2022, "Model soups", https://arxiv.org/abs/2203.05482).

Models fine-tuned from the same starting weights often lie in one low-loss basin, so the average of their
weights is itself a good model, of the size of one member and at the cost of one member at inference.
That only makes sense for members that share architecture *and* initial weights; :func:`check_same_weights`
refuses anything else with the first difference it finds.

``uniform``: the plain average of every member. ``greedy`` (the paper's Recipe 1): sort the members by
validation accuracy, start from the best one, and add each next one only if the soup's validation accuracy
does not drop (``>=``). The greedy soup starts as the best member, so it is never below the best member's
validation accuracy.

Every weight is averaged, the non-trainable ones too: BatchNorm statistics of a frozen pretrained backbone
are identical in every member; for a backbone trained from scratch the averaged statistics only approximate
the soup's own (the greedy soup's validation check guards against a bad average). Integer state (random-generator
seeds of augmentation layers) is taken from the first member.

Example:
    >>> import numpy as np
    >>> average_weights([[np.array([0.0, 2.0])], [np.array([2.0, 4.0])]])[0].tolist()
    [1.0, 3.0]
    >>> scores = {(0,): 0.8, (0, 1): 0.85, (0, 1, 2): 0.7}
    >>> chosen, steps = greedy_soup([0, 1, 2], lambda members: (scores[tuple(members)], None), first_score=0.8)
    >>> chosen, [s["added"] for s in steps]
    ([0, 1], [True, True, False])
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np


def weight_signature(model) -> list[tuple[str, tuple[int, ...]]]:
    """(path, shape) of every weight, in order: what two models must share to be averaged."""
    return [(variable.path, tuple(int(d) for d in variable.shape)) for variable in model.weights]


def check_same_weights(models: Sequence, run_ids: Sequence[str]) -> None:
    """``ValueError`` naming the first weight that differs in name or shape between the models."""
    reference = weight_signature(models[0])
    for model, run_id in zip(models[1:], run_ids[1:]):
        signature = weight_signature(model)
        if signature == reference:
            continue
        if len(signature) != len(reference):
            detail = f"{len(reference)} weights in {run_ids[0]}, {len(signature)} in {run_id}"
        else:
            (a, sa), (b, sb) = next((x, y) for x, y in zip(reference, signature) if x != y)
            detail = f"{run_ids[0]} has {a} {sa}, {run_id} has {b} {sb}"
        raise ValueError(f"a soup needs runs with the same architecture, but their weights differ: {detail}. "
                         "Use the ensemble method for different models.")


def average_weights(weight_lists: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Element-wise mean of floating-point weights over the members; other dtypes from the first member."""
    averaged = []
    for arrays in zip(*weight_lists):
        first = np.asarray(arrays[0])
        if np.issubdtype(first.dtype, np.floating):
            averaged.append(np.mean(np.stack([np.asarray(a, np.float64) for a in arrays]), axis=0)
                            .astype(first.dtype))
        else:
            averaged.append(first)
    return averaged


def greedy_soup(order: Sequence[int], score: Callable[[list[int]], tuple[float, Any]],
                first_score: Optional[float] = None) -> tuple[list[int], list[dict]]:
    """Recipe 1: members in ``order`` (best validation accuracy first), each kept if the soup's score does
    not drop. ``score(members)`` returns (validation accuracy, anything) for the soup of those members;
    ``first_score`` is the best member's accuracy when already known. Returns the chosen members and one
    step per member: ``{"member", "val_accuracy", "added"}``."""
    chosen = [order[0]]
    best = score(chosen)[0] if first_score is None else first_score
    steps = [{"member": order[0], "val_accuracy": float(best), "added": True}]
    for member in order[1:]:
        accuracy = float(score(chosen + [member])[0])
        added = accuracy >= best
        steps.append({"member": member, "val_accuracy": accuracy, "added": added})
        if added:
            chosen.append(member)
            best = accuracy
    return chosen, steps

"""Attack strengths typed by a person: ``"0, 0.01, 0.03"`` -> ``[0.0, 0.01, 0.03]``, or one plain sentence.

Pixel epsilons (pictures, sounds) and word-substitution rates (texts) are both fractions in [0, 1] typed as
a comma list; only the words of the messages differ, so each task passes its own.

Example:
    >>> parse_levels("0.03; 0, 0.01,0.03", noun="epsilon", example="0, 0.01, 0.03", meaning="pixels in [0, 1]")
    [0.0, 0.01, 0.03]
"""

from __future__ import annotations

import math
from typing import Sequence


def parse_levels(text: "str | Sequence[float]", *, noun: str, example: str, meaning: str,
                 hint: str = "") -> list[float]:
    """Numbers in [0, 1] from ``text`` (commas or semicolons; or a sequence), sorted and without repeats.

    ``ValueError`` in plain words: ``noun`` names one value, ``example`` shows a good list, ``meaning`` says
    what a value is (in the out-of-range message), ``hint`` follows the range.
    """
    values = text.replace(";", ",").split(",") if isinstance(text, str) else list(text)
    out = set()
    for value in values:
        if isinstance(value, str) and not value.strip():
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{noun} {value!r} is not a number; give {meaning} separated by commas, "
                             f"e.g. {example}") from None
        if math.isnan(number) or not 0 <= number <= 1:
            raise ValueError(f"{noun} {number} is outside [0, 1]: {hint or meaning}")
        out.add(number)
    if not out:
        raise ValueError(f"give at least one {noun}, e.g. {example}")
    return sorted(out)

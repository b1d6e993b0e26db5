"""Model fusion: combine finished runs into one new run. :mod:`.fuse` checks the members and picks the method,
:mod:`.run` runs it and stores the result; the methods are the weighted ensemble (:mod:`.ensemble`), weight soups
(:mod:`.soup`) and distillation into one student (:mod:`.distill`)."""

"""Verified export of a run's model: write each format, reload it with its own runtime and compare before
publishing (:mod:`.verify`). Beside it: the formats and their tolerances (:mod:`.formats`), the inputs each
modality is checked on (:mod:`.inputs`), the signed manifest (:mod:`.manifest`), the model card
(:mod:`.model_card`), and the scan that refuses unsafe user models before loading them (:mod:`.safe_load`)."""

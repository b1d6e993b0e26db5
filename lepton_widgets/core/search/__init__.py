"""Hyper-parameter search with KerasTuner: the tuner subclasses that report and stop (:mod:`.tuner`), the search
space (:mod:`.space`), the hypermodel that trains one trial (:mod:`.hypermodel`) on a shared head (:mod:`.head`),
the trial events (:mod:`.events`), the repair of KerasTuner's state files (:mod:`.state`) and the distributed
chief (:mod:`.chief`)."""

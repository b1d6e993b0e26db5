"""Finished runs on disk: the store of run folders (:mod:`.store`) and the recorder that writes a run's events and
outcome as it goes (:mod:`.recorder`)."""

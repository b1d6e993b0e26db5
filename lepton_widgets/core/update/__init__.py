"""Incremental update of a finished run on new data, new classes included (:mod:`.incremental`), with the
forgetting meter (:mod:`.meter`) and a replay buffer of the old training data (:mod:`.replay`); what differs
between pictures, sounds, texts and tables comes from the run's task (``core/tasks/<kind>/update.py``)."""

"""Incremental update of a finished run on new data, new classes included (:mod:`.incremental`, with the
forgetting meter), mixing in a replay buffer of the old training data (:mod:`.replay`)."""

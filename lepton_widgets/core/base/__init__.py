"""The ground floor of the engine: atomic writes, folders, progress events, the environment card, size limits,
safe CSV reading and TensorFlow's quiet start. Loading these imports neither TensorFlow nor the rest of ``core/``."""

"""Prediction with a chosen model: exports and a run's own model on images (:mod:`.exported`), and whatever a
model was trained on, sounds, texts or tables, through each modality's own engine (:mod:`.any_modality`)."""

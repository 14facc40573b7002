"""Stage 2, training: fine-tune or load a classifier, predict logits, write a run."""

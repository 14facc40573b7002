"""Stage 4, the augmenter: prompts, generation backends, checks, candidates."""

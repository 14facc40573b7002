"""Stage 5, retraining: train with the accepted samples and compare before/after."""

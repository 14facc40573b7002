"""Stage 3, the explorer: normalise, cluster, name, project and score error regions."""

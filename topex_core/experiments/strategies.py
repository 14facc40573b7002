"""The strategies an experiment compares (torch-free, so the CLI can offer them).

A *selection* picks the error cluster to augment: by one of the explorer's scores, at
random, or the largest. A *region strategy* adds samples for the experiment's target
region (``experiments.region``): ``oracle`` (unused labelled pool rows of the region, the
ceiling), ``directed`` (the generator, free mode), ``rewrite`` (the generator rewriting
the region's misclassified rows), ``balanced`` (half of them rewrites, half rewrites of
the region's rows of other labels, each keeping its label) and ``random_rows`` (unused
pool rows from anywhere). A
*baseline* adds no directed samples: ``eda_random`` rewrites random training rows (the paper's EDA
baseline), ``none`` retrains with nothing added (the control).
"""

from __future__ import annotations

from topex_core.explorer.scoring import SCORE_COLUMNS

SELECTIONS = (*SCORE_COLUMNS, "random", "largest")
REGION_STRATEGIES = ("oracle", "directed", "rewrite", "balanced", "random_rows")
BASELINES = ("eda_random", "none")
STRATEGIES = (*SELECTIONS, *REGION_STRATEGIES, *BASELINES)

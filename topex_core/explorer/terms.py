"""The terms the explorer reads in a text: words and two-word phrases an analyst can name.

One analyzer serves error slices and cluster names, so that a slice and a cluster keyword
mean the same rows. Lower-cased word tokens of two or more characters (scikit-learn's
default token pattern, Unicode-aware); unigrams that are English stop words are dropped,
and bigrams are kept when their first word is not one and their second is not one either
or is a particle that completes a verb ("stand for", "new york", "not funny", "turn up"
stay; "of the", "the game", "courier is" go). Negations are not stop words here: "not",
"no", "never" are exactly where sentiment models fail.
"""

from __future__ import annotations

import re

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

NEGATIONS = frozenset({"not", "no", "nor", "never", "nothing", "none", "cannot", "nobody",
                       "neither", "nowhere"})
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS - NEGATIONS)
PARTICLES = frozenset({"for", "up", "out", "off", "on", "in", "down", "over", "about",
                       "with", "away", "back", "through"})
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def phrases(text: str) -> list[str]:
    """The unigrams and bigrams of ``text`` that the explorer counts (see the module)."""
    tokens = _TOKEN.findall(text.lower())
    kept = [token for token in tokens if token not in STOP_WORDS]
    kept += [f"{first} {second}" for first, second in zip(tokens, tokens[1:], strict=False)
             if first not in STOP_WORDS
             and (second not in STOP_WORDS or second in PARTICLES)]
    return kept


def term_vectorizer(*, min_rows: int = 1) -> CountVectorizer:
    """A binary document-term counter with ``phrases`` as its analyzer; terms in fewer
    than ``min_rows`` texts are left out."""
    return CountVectorizer(analyzer=phrases, binary=True, min_df=min_rows)

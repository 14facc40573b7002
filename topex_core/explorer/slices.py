"""Error slices: terms whose rows the model gets wrong more often than the rest.

Beside TopEx's clusters in logit space, a slice is read off the texts: the rows containing
a term (``terms.row_terms``: words and two-word phrases, and for sentence pairs the
structural terms — which function words each side holds, whether the hypothesis's words
are all in the premise, and each part of speech crossed with their order), in one of two
scopes — every row,
or the rows whose true label is A (a slice of one confusion). For a term in ``a`` of a
scope's ``N`` rows, ``e`` of them misclassified, against ``E`` mistakes in the scope, the
2×2 table (e, a−e; E−e, N−a−E+e) is tested one-sided with Fisher's exact test. Its p-value
is the hypergeometric tail P(X ≥ e), X ~ Hypergeom(N, E, a), which is what
``scipy.stats.fisher_exact(alternative="greater")`` returns; ``scipy.stats.hypergeom.sf``
computes it for every term at once. All tests of a run are one family, corrected with
Benjamini–Hochberg (``scipy.stats.false_discovery_control``) into q-values.

A slice is kept when q ≤ ``alpha`` and its error rate is at least ``min_lift`` times the
scope's base rate. Slices are ranked by p; one whose rows overlap a better-ranked slice's
rows with Jaccard ≥ ``max_overlap`` is the same region said again ("york" beside "new
york") and is dropped; so is one whose rows lie (≥ ``max_overlap``) inside a kept slice
unless its error rate is at least ``SCOPE_GAIN`` times that slice's ("oil prices" inside
"oil", or "oil" among true-Business rows inside "oil": a part says more only when it
fails more); so is one whose mistakes lie (≥ ``max_overlap``) inside a kept slice that
fails more often ("oil" beside "oil" among true-Business rows, when those hold its
mistakes: the wider slice adds correct rows, not mistakes). When the better-ranked slice is
the wider one, the part that holds its mistakes and fails ``SCOPE_GAIN`` times as often
replaces it.

Slices of one confusion whose terms belong together group into a *concept*
(``concepts``): one region of the rows with any of its terms, tested again as a whole in
the same family (every q is corrected once more with the concepts' p-values). Concepts and
the remaining term slices are then ranked and thinned together by the rules above, so a
term inside a concept stays only when it fails more than the concept. A concept's key is
its terms joined by " + " ("comedy + funny + humor | negative"), its ``term`` the name
("comedy · funny · humor"), its ``terms`` each term ("; "-separated; one for a term
slice).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import pandas as pd
from scipy import sparse, stats

from topex_core.errors import SettingsError
from topex_core.explorer.concepts import ConceptConfig, EmbedRows, FoundSlice, concepts_of
from topex_core.explorer.terms import is_structural, row_terms, term_vectorizer
from topex_core.training.embeddings import Embed

SCOPE_GAIN = 1.2
# the share of the rows a term needs to be tested (at least 5): a floor against terms too
# rare to test, not against small regions, which the evidence ranking puts below those an
# analyst can act on; at 0.2%, TREC's sharp failures of 5 to 8 questions went untested
# (docs/results/regions.md)
MIN_ROWS_SHARE = 0.001
TERM_SEPARATOR = " · "  # a concept's name: "comedy · funny · humor"
TERMS_SEPARATOR = "; "  # slices.csv's ``terms``
SCOPE_SEPARATOR = " | "  # a key's term, then its scope's true label
SLICE_COLUMNS = ["slice", "term", "terms", "true_label", "rows", "errors", "error_rate",
                 "base_rate", "lift", "p", "q", "confusion", "example_ids"]


@dataclass(frozen=True)
class SliceConfig:
    """``min_rows`` None = max(5, ``MIN_ROWS_SHARE`` of the rows); ``per_label`` adds the
    scopes of each true label; ``examples``: misclassified example rows kept per slice;
    ``concepts``: how slices group into concepts (None: they do not)."""

    min_rows: int | None = None
    alpha: float = 0.05
    min_lift: float = 1.5
    max_slices: int = 30
    max_overlap: float = 0.8
    per_label: bool = True
    examples: int = 3
    concepts: ConceptConfig | None = field(default_factory=ConceptConfig)

    def validate(self) -> None:
        if self.min_rows is not None and self.min_rows < 2:
            raise SettingsError(f"a slice needs at least 2 rows, got min_rows={self.min_rows}")
        if not 0 < self.alpha <= 1:
            raise SettingsError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.min_lift < 1:
            raise SettingsError(f"min_lift must be at least 1, got {self.min_lift}")
        if self.max_slices < 1:
            raise SettingsError(f"max_slices must be at least 1, got {self.max_slices}")
        if not 0 < self.max_overlap <= 1:
            raise SettingsError(f"max_overlap must be in (0, 1], got {self.max_overlap}")

    def rows_needed(self, n_rows: int) -> int:
        return self.min_rows or max(5, math.ceil(MIN_ROWS_SHARE * n_rows))


@dataclass(frozen=True)
class ErrorSlices:
    """``table``: one row per slice, best first (``SLICE_COLUMNS``); ``members``: the row
    positions (into the explorer's points) of each slice, keyed by the ``slice`` column."""

    table: pd.DataFrame
    members: dict[str, np.ndarray]

    @classmethod
    def empty(cls) -> ErrorSlices:
        return cls(pd.DataFrame(columns=SLICE_COLUMNS), {})


def _slice_key(terms: tuple[str, ...], true_label: str) -> str:
    """The slice's key: its term (a concept's terms joined by " + "), with the scope's true
    label when it has one."""
    key = " + ".join(terms)
    return f"{key}{SCOPE_SEPARATOR}{true_label}" if true_label else key


def term_and_scope(name: str) -> tuple[str, str]:
    """(term, true label or "") of a slice named as a key is written ("ate | entailment",
    "ate"): how a bare term finds its slice."""
    term, _, true_label = name.partition(SCOPE_SEPARATOR)
    return term, true_label


def find_error_slices(texts: Sequence[str], true_ids: np.ndarray, pred_ids: np.ndarray,
                      label_names: Sequence[str], row_ids: np.ndarray,
                      config: SliceConfig = SliceConfig(), *,
                      embed: Embed | None = None,
                      embed_rows: EmbedRows | None = None) -> ErrorSlices:
    """Error slices of ``texts`` (N) with true and predicted label ids (N,) int, term
    slices and concepts (``concepts``: ``embed``, the sentence embedder, and
    ``embed_rows``, the embeddings of rows by position, let slices of like meaning group).

    ``row_ids`` (N,) are the dataset ids used for the example rows. Empty when the model
    makes no mistake, makes nothing but mistakes, or the texts share no term.
    """
    config.validate()
    true_ids, pred_ids = np.asarray(true_ids), np.asarray(pred_ids)
    wrong = true_ids != pred_ids
    if not wrong.any() or wrong.all():
        return ErrorSlices.empty()
    vectorizer = term_vectorizer(min_rows=config.rows_needed(len(texts)), analyzer=row_terms)
    try:
        counts = vectorizer.fit_transform(texts).tocsc()
    except ValueError:  # no term in enough rows: emoji only, one-word texts, tiny data
        return ErrorSlices.empty()
    terms = vectorizer.get_feature_names_out()
    scopes = _scope_indicators(true_ids, len(label_names), config.per_label)
    tests = _fisher_tests(counts, scopes, wrong, config.rows_needed(len(texts)))
    if tests.empty:
        return ErrorSlices.empty()
    tests["q"] = stats.false_discovery_control(tests["p"].to_numpy(), method="bh")
    kept = tests[(tests["q"] <= config.alpha) & (tests["lift"] >= config.min_lift)]
    kept = kept.sort_values(["p", "lift"], ascending=[True, False])
    in_scope = [scopes[scope].toarray().ravel() > 0 for scope in range(scopes.shape[0])]
    term_slices = _distinct([_term_slice(test, counts, in_scope, terms, true_ids, pred_ids,
                                         list(label_names))
                             for test in kept.head(20 * config.max_slices)
                             .itertuples(index=False)], wrong, config.max_overlap)
    vocabulary = {str(term): index for index, term in enumerate(terms)}
    # a concept groups words of one meaning; structural terms stay slices of their own
    worded = [found for found in term_slices if not is_structural(found.terms[0])]
    concepts = (concepts_of(worded, wrong, partial(_rows_of, counts, in_scope, wrong,
                                                   vocabulary),
                            embed=embed, embed_rows=embed_rows, config=config.concepts)
                if config.concepts is not None else [])
    found = _corrected(term_slices, concepts, tests, vocabulary)
    found = [s for s in found if s.q <= config.alpha and s.lift >= config.min_lift]
    found = _distinct(sorted(found, key=lambda s: (s.p, -s.lift)), wrong, config.max_overlap)
    return _table(found[:config.max_slices], list(label_names), np.asarray(row_ids), wrong,
                  config.examples)


def _corrected(term_slices: list[FoundSlice], concepts: list[FoundSlice], tests: pd.DataFrame,
               vocabulary: dict[str, int]) -> list[FoundSlice]:
    """Term slices and concepts with their q-values: the concepts join the run's family of
    tests, so every q is corrected again with them."""
    q = stats.false_discovery_control(np.r_[tests["p"].to_numpy(), [c.p for c in concepts]],
                                      method="bh")
    q_of_term = dict(zip(zip(tests["scope"], tests["term_index"], strict=True),
                         q[:len(tests)], strict=True))
    return ([replace(s, q=float(q_of_term[(s.scope, vocabulary[s.terms[0]])]))
             for s in term_slices]
            + [replace(c, q=float(value)) for c, value in zip(concepts, q[len(tests):],
                                                              strict=True)])


def _scope_indicators(true_ids: np.ndarray, n_labels: int, per_label: bool) -> sparse.csr_matrix:
    """(S, N) 0/1 rows: scope 0 is every row, scope 1 + A the rows of true label A."""
    rows = [np.ones(len(true_ids))]
    if per_label and n_labels > 1:
        rows += [(true_ids == label).astype(float) for label in range(n_labels)]
    return sparse.csr_matrix(np.vstack(rows))


def _fisher_tests(counts: sparse.csc_matrix, scopes: sparse.csr_matrix, wrong: np.ndarray,
                  min_rows: int) -> pd.DataFrame:
    """One row per (scope, term) with enough rows: its counts, error rates and p-value."""
    term_rows = np.asarray((scopes @ counts).todense())  # (S, V) rows with the term
    term_errors = np.asarray((scopes.multiply(wrong) @ counts).todense())
    scope_rows = np.asarray(scopes.sum(axis=1)).ravel()
    scope_errors = np.asarray(scopes @ wrong.astype(float)).ravel()
    scope, term = np.nonzero((term_rows >= min_rows) & (term_errors >= 2))
    tested = (scope_errors[scope] > 0) & (scope_errors[scope] < scope_rows[scope])
    scope, term = scope[tested], term[tested]
    rows, errors = term_rows[scope, term], term_errors[scope, term]
    base_rate = scope_errors[scope] / scope_rows[scope]
    error_rate = errors / rows
    p = stats.hypergeom.sf(errors - 1, scope_rows[scope], scope_errors[scope], rows)
    return pd.DataFrame({"scope": scope, "term_index": term, "rows": rows.astype(int),
                         "errors": errors.astype(int), "error_rate": error_rate,
                         "base_rate": base_rate, "lift": error_rate / base_rate, "p": p,
                         "scope_rows": scope_rows[scope].astype(int),
                         "scope_errors": scope_errors[scope].astype(int)})


def _rows_of(counts: sparse.csc_matrix, in_scope: list[np.ndarray], wrong: np.ndarray,
             vocabulary: dict[str, int], terms: tuple[str, ...], scope: int
             ) -> tuple[np.ndarray, int, int]:
    """(positions of ``scope``'s rows with any of ``terms``, the scope's rows, its mistakes);
    ``in_scope``: (N,) bool per scope."""
    has_term = np.asarray(counts[:, [vocabulary[term] for term in terms]].sum(axis=1)).ravel()
    return (np.flatnonzero(in_scope[scope] & (has_term > 0)), int(in_scope[scope].sum()),
            int((in_scope[scope] & wrong).sum()))


def _term_slice(test, counts: sparse.csc_matrix, in_scope: list[np.ndarray], terms: np.ndarray,
                true_ids: np.ndarray, pred_ids: np.ndarray,
                label_names: list[str]) -> FoundSlice:
    """The slice of one (scope, term) test: its rows and the confusion of its mistakes."""
    column = counts[:, test.term_index]
    positions = column.indices[in_scope[test.scope][column.indices]]
    positions.sort()
    mistakes = positions[true_ids[positions] != pred_ids[positions]]
    return FoundSlice((str(terms[test.term_index]),), int(test.scope), positions,
                      int(test.errors), int(test.scope_rows), int(test.scope_errors),
                      _confusion(true_ids[mistakes], pred_ids[mistakes], label_names),
                      float(test.p))


def _distinct(found: list[FoundSlice], wrong: np.ndarray,
              max_overlap: float) -> list[FoundSlice]:
    """``found`` (best first) without the slices that say again what a better one says."""
    overlaps = _Overlaps.of(found, wrong)
    chosen: list[int] = []
    for candidate in range(len(found)):
        if any(overlaps.repeats(candidate, other, max_overlap) for other in chosen):
            continue
        chosen = [other for other in chosen
                  if not overlaps.narrows(candidate, other, max_overlap)]
        chosen.append(candidate)
    return [found[index] for index in chosen]


def _table(found: list[FoundSlice], label_names: list[str], row_ids: np.ndarray,
           wrong: np.ndarray, examples: int) -> ErrorSlices:
    rows, members = [], {}
    for found_slice in found:
        true_label = label_names[found_slice.scope - 1] if found_slice.scope > 0 else ""
        name = _slice_key(found_slice.terms, true_label)
        mistakes = found_slice.positions[wrong[found_slice.positions]]
        members[name] = found_slice.positions
        rows.append({"slice": name, "term": TERM_SEPARATOR.join(found_slice.terms),
                     "terms": TERMS_SEPARATOR.join(found_slice.terms),
                     "true_label": true_label, "rows": found_slice.rows,
                     "errors": found_slice.errors,
                     "error_rate": round(found_slice.error_rate, 4),
                     "base_rate": round(found_slice.base_rate, 4),
                     "lift": round(found_slice.lift, 3), "p": found_slice.p,
                     "q": found_slice.q, "confusion": found_slice.confusion,
                     "example_ids": "; ".join(str(i) for i in row_ids[mistakes[:examples]])})
    return ErrorSlices(pd.DataFrame(rows, columns=SLICE_COLUMNS), members)


@dataclass(frozen=True)
class _Overlaps:
    """What every two of ``n`` slices share, from two sparse products rather than a set
    operation per pair (a run tests up to 600): ``shared[i, j]`` = |rows_i ∩ rows_j|,
    ``held[i, j]`` = |mistakes_i ∩ rows_j| (both (n, n)); ``rows`` and ``error_rates``
    (n,) are each slice's."""

    shared: np.ndarray
    held: np.ndarray
    rows: np.ndarray
    error_rates: np.ndarray

    @classmethod
    def of(cls, found: list[FoundSlice], wrong: np.ndarray) -> _Overlaps:
        lengths = np.array([found_slice.rows for found_slice in found], dtype=np.int64)
        positions = (np.concatenate([found_slice.positions for found_slice in found])
                     if found else np.zeros(0, np.int64))
        member = sparse.csr_matrix((np.ones(len(positions), np.int64), positions,
                                    np.r_[0, np.cumsum(lengths)]),
                                   shape=(len(found), len(wrong)))
        mistaken = member.multiply(wrong.astype(np.int64)).tocsr()
        return cls(shared=(member @ member.T).toarray(), held=(mistaken @ member.T).toarray(),
                   rows=lengths, error_rates=np.array([s.error_rate for s in found]))

    def repeats(self, candidate: int, kept: int, max_overlap: float) -> bool:
        """Whether slice ``candidate`` says again what the ``kept`` slice says (see the
        module)."""
        shared = self.shared[candidate, kept]
        if shared / (self.rows[candidate] + self.rows[kept] - shared) >= max_overlap:
            return True
        rate, kept_rate = self.error_rates[candidate], self.error_rates[kept]
        if shared / self.rows[candidate] >= max_overlap:
            return rate < SCOPE_GAIN * kept_rate
        mistakes = self.held[candidate, candidate]
        held = self.held[candidate, kept] / mistakes if mistakes else 0.0
        return held >= max_overlap and rate < kept_rate

    def narrows(self, candidate: int, wider: int, max_overlap: float) -> bool:
        """Whether slice ``candidate`` lies inside slice ``wider``, fails ``SCOPE_GAIN``
        times as often and holds its mistakes (≥ ``max_overlap`` each): the same failure,
        said more precisely, so it replaces the wider slice ("innings" among
        true-Business rows for "innings")."""
        if self.error_rates[candidate] < SCOPE_GAIN * self.error_rates[wider]:
            return False
        if self.shared[candidate, wider] / self.rows[candidate] < max_overlap:
            return False
        wider_mistakes = self.held[wider, wider]
        return bool(wider_mistakes
                    and self.held[wider, candidate] / wider_mistakes >= max_overlap)


def _confusion(true_ids: np.ndarray, pred_ids: np.ndarray, label_names: list[str]) -> str:
    """The most common wrong pair among the slice's mistakes, e.g. ``"positive → negative"``."""
    (true_id, pred_id), _ = Counter(zip(true_ids.tolist(), pred_ids.tolist(),
                                        strict=True)).most_common(1)[0]
    return f"{label_names[true_id]} → {label_names[pred_id]}"

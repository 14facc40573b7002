"""Regions merged by hand: one target made of several regions of any kinds, so that one
failure the explorer found as two concepts (or a concept and a cluster) is generated for,
retrained on and measured once.

The key (``union_key``) is made and read here alone: the parts' references, sorted and
joined by ``" ; "`` (``cluster:3 ; slice:oil | Business``), so that the same parts picked in
any order name the same union. A union is built when it is named (``find_union``); the
explorer lists none of its own (joining regions automatically is the failure-mode issue's).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from topex_core.errors import SettingsError
from topex_core.explorer.regions import Region, RegionUnion
from topex_core.region_ref import RegionRef

if TYPE_CHECKING:
    from topex_core.explorer.explored import ExploredRun

KIND = "union"  # its row in ``region_kinds``
PARTS_SEPARATOR = " ; "
MAX_PARTS = 8  # more is no longer one failure an analyst can read


def union_key(parts: list[RegionRef]) -> str:
    return PARTS_SEPARATOR.join(sorted(dict.fromkeys(str(part) for part in parts)))


def union_ref(parts: list[RegionRef]) -> RegionRef:
    """The reference of the union of ``parts`` (two to ``MAX_PARTS`` distinct regions, none
    a union); SettingsError otherwise."""
    distinct = list(dict.fromkeys(parts))
    if not 2 <= len(distinct) <= MAX_PARTS:
        raise SettingsError(f"a union merges two to {MAX_PARTS} different regions, not "
                            f"{len(distinct)}")
    if any(part.kind == KIND for part in distinct):
        raise SettingsError("a union merges regions, not other unions: pick their parts")
    return RegionRef(KIND, union_key(distinct))


def union_parts(key: str) -> list[RegionRef]:
    """The parts a union's key names; SettingsError when it names fewer than two."""
    parts = [RegionRef.parse(text) for text in key.split(PARTS_SEPARATOR) if text.strip()]
    union_ref(parts)  # the same rules as making one
    return parts


def no_unions(explored: ExploredRun) -> list[Region]:
    """The explorer lists no unions: an analyst names them."""
    return []


def find_union(explored: ExploredRun, key: str) -> RegionUnion:
    """The union of the regions ``key`` names (each must exist: RunError says which does
    not), built from the explored run's points."""
    parts = [explored.region(ref) for ref in union_parts(key)]
    points = explored.points
    rows = _union(part.rows for part in parts)
    wrong = ~points["correct"].to_numpy(bool)[rows]
    labels = points["label"].astype(str).to_numpy()[rows][wrong]
    predicted = points["pred"].astype(str).to_numpy()[rows][wrong]
    label, confusion = parts[0].label, parts[0].confusion
    if wrong.any():
        (label, guessed), _ = Counter(zip(labels, predicted, strict=True)).most_common(1)[0]
        confusion = f"{label} → {guessed}"
    topic = " + ".join(part.topic for part in parts)
    return RegionUnion(
        KIND, union_key([part.ref for part in parts]), f"{topic} · {confusion}",
        tuple(dict.fromkeys(term for part in parts for term in part.terms)), label, confusion,
        rows, int(wrong.sum()), lambda: _union(part.test_rows for part in parts),
        lambda test: _union(part.reach(test=test) for part in parts), parts=tuple(parts))


def _union(positions) -> np.ndarray:
    """The sorted union of several (n,) int position arrays."""
    return np.unique(np.concatenate([np.asarray(p, np.int64) for p in positions]
                                    or [np.zeros(0, np.int64)]))

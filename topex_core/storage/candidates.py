"""Candidates as the store keeps them: ``Candidate`` (what a generator made, with its
lineage), ``VettedCandidate`` (a stored one with the analyst's decisions applied), and the
helpers that read a frame of them. No database here: ``store`` reads and writes."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from topex_core.records import CandidateChecks
from topex_core.region_ref import RegionRef


@dataclass(frozen=True)
class Candidate:
    """A synthetic sample to vet; lineage fields say where it came from. ``target``: the
    region it was made for (None: none named)."""

    text: str
    label: str
    backend: str
    text_pair: str | None = None
    target: RegionRef | None = None
    model: str | None = None
    prompt: str | None = None
    sampling: dict | None = None
    seed: int | None = None
    checks: CandidateChecks | None = None
    mix_ratio: float | None = None


@dataclass(frozen=True)
class VettedCandidate:
    """A stored candidate as the analyst sees it: its decisions applied (``text`` and
    ``label`` after edits and relabels, ``status`` pending, accepted or rejected), the
    region it was made for (``target``), its lineage (``lineage``: the sampling settings
    and, for a rewrite, its mode and ``source_id``) and its checks."""

    id: int
    target: RegionRef | None
    original_text: str
    text: str
    text_pair: str | None
    original_label: str
    label: str
    status: str
    backend: str
    model: str | None
    lineage: dict
    checks: CandidateChecks

    @property
    def decided(self) -> bool:
        """Whether a decision stands on it (accepted, rejected, edited or relabelled)."""
        return (self.status != "pending" or self.text != self.original_text
                or self.label != self.original_label)

    @property
    def source_id(self) -> int | None:
        """The dataset row a rewrite started from (None: not a rewrite)."""
        source = self.lineage.get("source_id")
        return None if source is None else int(source)

    @property
    def made_by(self) -> str:
        """The backend, and its model where it names one: "openai (gpt-x)"."""
        return self.backend + (f" ({self.model})" if self.model not in (None, self.backend)
                               else "")


REVIEW_ORDERS = ("suspect first", "suspect last", "as generated")


def review_order(candidates: list[VettedCandidate], order: str) -> list[VettedCandidate]:
    """The candidates in the order a reviewer reads them: by the number of warnings,
    most first (``suspect first``) or last (``suspect last``), ties and ``as generated``
    in the order they were stored."""
    if order not in REVIEW_ORDERS:
        raise ValueError(f"unknown review order '{order}'; choose one of "
                         f"{', '.join(REVIEW_ORDERS)}")
    if order == "as generated":
        return list(candidates)
    sign = -1 if order == "suspect first" else 1
    return sorted(candidates, key=lambda candidate: sign * len(candidate.checks.warnings))


def effective_state(frame: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    frame = frame.rename(columns={"text": "original_text", "label": "original_label"})
    frame["text"] = frame["original_text"]
    frame["label"] = frame["original_label"]
    frame["status"] = "pending"
    position = {candidate_id: i for i, candidate_id in enumerate(frame["id"])}
    for decision in decisions.itertuples():
        row = position.get(decision.candidate_id)
        if row is None:
            continue
        if decision.action == "edit":
            frame.iat[row, frame.columns.get_loc("text")] = decision.text
        elif decision.action == "relabel":
            frame.iat[row, frame.columns.get_loc("label")] = decision.label
        elif decision.action in ("accept", "reject"):
            frame.iat[row, frame.columns.get_loc("status")] = f"{decision.action}ed"
    frame["target"] = [target_name(RegionRef.optional(kind, key)) for kind, key
                       in zip(frame["target_kind"], frame["target_key"], strict=True)]
    frame["checks"] = [CandidateChecks.from_json(json.loads(text) if text else None)
                       for text in frame["checks"]]
    columns = ["id", "target_kind", "target_key", "target", "original_text", "text",
               "text_pair", "original_label", "label", "status", "backend", "model", "prompt",
               "sampling", "seed", "checks", "mix_ratio", "created_at"]
    return frame[columns]


def target_name(target: RegionRef | None) -> str:
    """What a candidate was made for: "cluster 3", "slice oil", or "—" for none."""
    return f"{target.kind} {target.key}" if target is not None else "—"


def candidate_targets(frame: pd.DataFrame) -> list[RegionRef]:
    """The regions the candidates of a ``Store.candidates`` frame were made for, each
    once, in order."""
    refs = (RegionRef.optional(kind, key)
            for kind, key in zip(frame["target_kind"], frame["target_key"], strict=True))
    return list(dict.fromkeys(ref for ref in refs if ref is not None))

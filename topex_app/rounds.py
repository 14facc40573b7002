"""What the latest retraining round did to a region, in one line any page can show."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from topex_core.explorer.explored import Region
from topex_core.round_outcomes import outcome_sentence
from topex_core.rounddir import latest_outcome, list_rounds


def last_round_of(run_dir: Path, region: Region) -> None:
    """A caption with the latest round that targeted ``region``, if one did."""
    found = latest_outcome(run_dir, region.ref)
    if found is not None:
        name, outcome = found
        st.caption(f"Round {name} targeted this {region.kind}: {outcome_sentence(outcome)}.")


def latest_round(run_dir: Path) -> None:
    """The latest round's verdict, its target regions and the whole test split, against
    its control."""
    rounds = list_rounds(run_dir)
    if not rounds:
        return
    last = rounds[-1]
    metrics = last.metrics
    lines = [metrics.verdict.text] if metrics.verdict is not None else []
    lines += [f"{target.kind} {target.name}: {outcome_sentence(target)}"
              for target in metrics.targets]
    if metrics.overall is not None:
        lines.append(f"the whole test split: {outcome_sentence(metrics.overall)}")
    if lines:
        st.caption(f"Latest round ({last.name}, {last.samples} samples, {last.mode}) — "
                   + " ".join(line.rstrip(".") + "." for line in lines))

"""Undo and redo for one analyst's vetting session: every step (one decision, or a bulk
action over many candidates) is a list of decision ids in the store; undoing a step
undoes them all (``Store.undo_decisions``), redoing it decides them again
(``Store.redo_decisions``). A new step clears what could be redone, as in an editor.

The history lives with the session (a browser tab); the decisions it points to live in
the store, so a reload loses the history's buttons, never a decision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from topex_core.storage.store import Store


@dataclass(frozen=True)
class Step:
    """What one action decided: ``summary`` says it ("accepted #12", "rejected 8"),
    ``decision_ids`` are the store's decisions it wrote."""

    summary: str
    decision_ids: tuple[int, ...]


@dataclass
class DecisionHistory:
    """The steps that can be undone (``done``, latest last) and redone (``undone``)."""

    done: list[Step] = field(default_factory=list)
    undone: list[Step] = field(default_factory=list)

    def record(self, summary: str, decision_ids: Sequence[int]) -> Step:
        step = Step(summary, tuple(int(decision_id) for decision_id in decision_ids))
        self.done.append(step)
        self.undone.clear()
        return step

    def decide(self, store: Store, candidate_id: int, action: str, *,
               text: str | None = None, label: str | None = None) -> Step:
        """One decision on one candidate, written to the store and recorded."""
        decision_id = store.decide(candidate_id, action, text=text, label=label)
        past = {"accept": "accepted", "reject": "rejected", "edit": "edited",
                "relabel": f"relabelled '{label}'"}[action]
        return self.record(f"{past} #{candidate_id}", [decision_id])

    def decide_many(self, store: Store, candidate_ids: Sequence[int], action: str) -> Step:
        """One bulk accept or reject, written in one transaction and recorded as one step."""
        decision_ids = store.decide_many(candidate_ids, action)
        return self.record(f"{action}ed {len(decision_ids)}", decision_ids)

    def undo(self, store: Store) -> Step | None:
        """Undo the latest step (None: nothing to undo)."""
        if not self.done:
            return None
        step = self.done.pop()
        store.undo_decisions(step.decision_ids)
        self.undone.append(step)
        return step

    def redo(self, store: Store) -> Step | None:
        """Decide again the step undone last (None: nothing to redo); the redone step
        points to the new decisions, so it can be undone again."""
        if not self.undone:
            return None
        step = self.undone.pop()
        redone = Step(step.summary, tuple(store.redo_decisions(step.decision_ids)))
        self.done.append(redone)
        return redone

"""Keys pressed in the review queue, none lost: one listener on the page queues them in the
browser and hands them to Python one at a time.

Streamlit's per-button shortcuts unbind and bind a button's key as the button redraws, so a
key pressed while the vetting fragment reran reached nothing: a vetter who pressed A twice
quickly accepted one candidate (the browser test pressed each key up to three times). Here
one keydown listener (``keyqueue.js``, a Streamlit v2 component: no iframe) numbers every
key and keeps those Python has not acknowledged; each run takes the first waiting key and
acknowledges it, and the listener sends the rest again until none waits. A key typed into a
text field, with Ctrl, Alt or Meta, or repeated by holding it down is not queued.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import streamlit as st

_listener = st.components.v2.component(
    "topex_key_queue", js=(Path(__file__).parent / "keyqueue.js").read_text())


def first_waiting(pending: Sequence[Mapping], acked: int) -> tuple[int, str] | None:
    """(number, key) of the first key numbered after ``acked`` in the listener's ``pending``
    (items {"seq": int, "key": str}), or None when none waits."""
    waiting = [item for item in pending if int(item["seq"]) > acked]
    if not waiting:
        return None
    first = min(waiting, key=lambda item: int(item["seq"]))
    return int(first["seq"]), str(first["key"])


def take(name: str) -> str | None:
    """The first key waiting in listener ``name`` (lower case), acknowledged; None when none
    waits. Call before anything the key changes is drawn."""
    state = st.session_state.get(name) or {}
    pending = (state.get("pending") or {}).get("keys") or []
    found = first_waiting(pending, st.session_state.get(f"{name}_acked", 0))
    if found is None:
        return None
    st.session_state[f"{name}_acked"] = found[0]
    return found[1]


def listen(name: str, keys: Sequence[str]) -> None:
    """Mount listener ``name`` for ``keys`` (single letters), told which key was taken
    last. Mount it in the same place on every run, with the same keys: the listener hears
    a change of them only after the page has redrawn, and drops the keys pressed before."""
    _listener(key=name, data={"acked": st.session_state.get(f"{name}_acked", 0),
                              "keys": [key.lower() for key in keys]},
              on_pending_change=lambda: None, height=0)

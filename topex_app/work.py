"""One status block for long work: a progress bar, a label that ends in done or failed,
user errors in one line and bugs with their traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import streamlit as st

from topex_core.errors import TopexError


@dataclass
class Work:
    """Handed to the block: ``progress(fraction, message)`` moves the bar; ``done(label)``
    sets the label shown when the block ends well. ``failed`` is True after a user error."""

    status: object
    bar: object
    failed: bool = False
    label: str = field(default="Done")

    def progress(self, fraction: float, message: str) -> None:
        self.bar.progress(min(1.0, max(0.0, fraction)), text=message)

    def done(self, label: str) -> None:
        self.label = label


@contextmanager
def long_work(label: str, *, failed_label: str, first_step: str = "starting") -> Iterator[Work]:
    """``with long_work("Training…", failed_label="Training failed") as work: …``.

    A :class:`TopexError` inside the block is shown with ``st.error`` and sets
    ``work.failed``; the page goes on. Any other exception is a bug: it is shown with its
    traceback (``st.exception``) and the page stops. Streamlit's own rerun and stop
    signals are BaseExceptions and pass through untouched (Cancel buttons rely on them).
    """
    with st.status(label, expanded=True) as status:
        work = Work(status=status, bar=st.progress(0.0, text=first_step))
        try:
            yield work
        except TopexError as error:
            work.failed = True
            status.update(label=failed_label, state="error")
            st.error(str(error))
            return
        except Exception as error:  # a bug: never dressed up as a user error
            status.update(label=f"{failed_label} (a bug in TopEx)", state="error")
            st.exception(error)
            st.stop()
        status.update(label=work.label, state="complete")

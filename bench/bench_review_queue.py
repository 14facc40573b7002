"""A key press in the review queue, timed in real headless Chromium until the page shows
its effect, against a whole-page rerun of the same page.

    python bench/bench_review_queue.py [--candidates 100]

Builds and explores a synthetic run of 3,000 rows (``bench_explore.synthetic_run``, the
packaged MiniLM for the checks), stores ``--candidates`` EDA candidates for its default
target with their checks, serves the dashboard, opens the Augment page at 1366×900 and
times, from the key press to the page showing it: ``A`` (accept, then the next pending
candidate: the "reviewed" count changes), ``N`` and ``P`` (the next or previous
candidate's id changes), ``U`` (undo). The alternative is the same page without its
fragment: Streamlit's own ``R`` key reruns the whole page, timed until it stops running.
Needs Debian's ``chromium`` and the ``playwright`` package, as the browser test does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_explore import synthetic_run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from local_server import free_port, started_server  # noqa: E402

from topex_core.augmenter import augment, backends  # noqa: E402
from topex_core.augmenter.checks import checker_for_run  # noqa: E402
from topex_core.explorer.pipeline import explore_run  # noqa: E402
from topex_core.storage.store import Store  # noqa: E402
from topex_core.training.classifier import set_cpu_threads  # noqa: E402
from topex_core.training.embeddings import SentenceEmbedder  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PROGRESS = "document.querySelector('[data-testid=stProgress]')?.innerText || ''"
SHOWN = ("[...document.querySelectorAll('[data-testid=stMarkdownContainer]')]"
         ".map(e => e.innerText).find(t => t.includes(' · #')) || ''")
RUNNING = ("document.querySelector('[data-testid=stApp]')"
           "?.getAttribute('data-test-script-state') === 'running'")


def prepared_home(home: Path, candidates: int) -> Path:
    """A TOPEX_HOME with one explored run and ``candidates`` stored for its default target."""
    run_dir = home / "runs" / "queue"
    synthetic_run(run_dir, 3_000)
    embed = SentenceEmbedder()
    explore_run(run_dir, embed=embed)
    context = augment.target_context(run_dir, None)
    request = augment.AugmentRequest(n=candidates, mode="free", shots=5)
    prompts = augment.prepare_prompts(context, request)
    checker = checker_for_run(context.explored, context.target, embed=embed, predict=None)
    with Store(home / "topex.db") as store:
        outcome = augment.generate_candidates(
            context, request, prompts, backend=backends.eda_for_target(context, embed),
            checker=checker, store=store)
    return run_dir, len(outcome.candidates)


def timed(page, key: str, changed: str) -> float:
    """Milliseconds from pressing ``key`` until the JavaScript ``changed`` reads another
    value than before."""
    before = page.evaluate(changed)
    start = time.perf_counter()
    page.keyboard.press(key)
    page.wait_for_function(f"({changed}) !== {json.dumps(before)}", timeout=60_000)
    return 1000 * (time.perf_counter() - start)


def rerun_ms(page) -> float:
    """Milliseconds from Streamlit's ``R`` (rerun the page) until it stops running."""
    start = time.perf_counter()
    page.keyboard.press("r")
    page.wait_for_function(RUNNING, timeout=10_000, polling=10)
    page.wait_for_function(f"!({RUNNING})", timeout=120_000, polling=10)
    return 1000 * (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--presses", type=int, default=10)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    set_cpu_threads()
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        _, stored = prepared_home(home, args.candidates)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = started_server(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            f"{url}/_stcore/health", seconds=60, cwd=ROOT,
            env={**os.environ, "TOPEX_HOME": str(home), "HF_HUB_OFFLINE": "1"})
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                     args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1366, "height": 900})
                page.goto(url)
                page.get_by_role("button", name="Open this run").click()
                page.get_by_text("Current run").first.wait_for(timeout=60_000)
                page.get_by_role("link", name="Augment").click()
                page.get_by_text("reviewed").first.wait_for(timeout=120_000)
                page.wait_for_timeout(2_000)
                timings = {"accept": [], "next": [], "previous": [], "undo": []}
                for _ in range(args.presses):
                    timings["accept"].append(timed(page, "a", PROGRESS))
                    timings["next"].append(timed(page, "n", SHOWN))
                    timings["previous"].append(timed(page, "p", SHOWN))
                for _ in range(args.presses):
                    timings["undo"].append(timed(page, "u", PROGRESS))
                reruns = [rerun_ms(page) for _ in range(args.presses)]
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    pressed = [ms for series in timings.values() for ms in series]
    print(json.dumps({
        "benchmark": "review_queue_key", "candidates": stored, "presses": len(pressed),
        **{f"{name}_median_ms": round(statistics.median(series))
           for name, series in timings.items()},
        "key_median_ms": round(statistics.median(pressed)),
        "key_p90_ms": round(statistics.quantiles(pressed, n=10)[-1]),
        "page_rerun_median_ms": round(statistics.median(reruns)),
        "rerun_over_key": round(statistics.median(reruns) / statistics.median(pressed), 1)}))


if __name__ == "__main__":
    main()

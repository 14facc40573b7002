"""The manual's screenshots, taken from the real dashboard on the embedded demo.

    python tools/screenshots.py [--home DIR] [--out docs/images]

Walks the README's tour with the real MiniLM backbone in a fresh ``TOPEX_HOME`` (a
temporary folder unless ``--home`` is given): trains and explores the demo and generates
the default round by the command line, opens the run in the dashboard in headless
Chromium at 1366×900 and photographs Data & model, Explore (the page, its map and its
regions by evidence) and the Augment page's review queue; then accepts the candidates,
retrains a head round and photographs Retrain & compare (the verdict, the groups against
the control and the before → after map). 4–7 minutes on 2 CPU cores (AMD EPYC); the PNGs
replace those under ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
VIEWPORT = {"width": 1366, "height": 900}
TALL_VIEWPORT = {"width": 1366, "height": 3600}
SETTLE_MS = 6000
PAGE_TIMEOUT_MS = 120_000


def topex(*arguments: str) -> str:
    """Run ``topex ARGUMENTS`` in this process (``TOPEX_HOME`` already set): its stdout."""
    from topex_core.cli.main import main

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        status = main(list(arguments))
    if status != 0:
        raise SystemExit(f"topex {' '.join(arguments)} failed with status {status}")
    return captured.getvalue()


def prepare_demo(home: Path) -> tuple[Path, list[str]]:
    """Train, explore and generate the default round: the run folder and the candidates."""
    run = home / "runs" / "demo"
    topex("train", "--data", "demo", "--out", str(run))
    topex("explore", "--run", str(run))
    generated = topex("generate", "--run", str(run))
    ids = [str(json.loads(line)["id"]) for line in generated.splitlines()
           if line.startswith("{")]
    return run, ids


def start_dashboard(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health")
            return server
        time.sleep(0.5)
    server.terminate()
    raise SystemExit("the dashboard did not start within 120 s")


def open_run(page: Page, port: int) -> None:
    page.goto(f"http://127.0.0.1:{port}")
    page.get_by_role("button", name="Open this run").wait_for(timeout=PAGE_TIMEOUT_MS)
    page.get_by_role("button", name="Open this run").click()
    page.get_by_text("Current run").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.wait_for_timeout(SETTLE_MS)


def visit(page: Page, link: str, ready_text: str) -> None:
    page.get_by_role("link", name=link).click()
    page.get_by_text(ready_text).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.wait_for_timeout(SETTLE_MS)


def shoot_element(page: Page, locator_text: str, path: Path) -> None:
    """The block of the page from the heading ``locator_text`` on, as tall as the viewport."""
    page.set_viewport_size(TALL_VIEWPORT)
    page.wait_for_timeout(SETTLE_MS)
    top = page.get_by_text(locator_text, exact=True).first.bounding_box()["y"]
    page.screenshot(path=str(path), clip={"x": 0, "y": max(top - 16, 0), **VIEWPORT})
    page.set_viewport_size(VIEWPORT)
    page.wait_for_timeout(1000)


def chromium() -> str:
    """The system's Chromium (Playwright's own browsers are never downloaded here)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise SystemExit("tools/screenshots.py needs Chromium on the PATH (`make browser` "
                         "installs Debian's where it can)")
    return found


def photograph(port: int, out: Path, run: Path, ids: list[str]) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(),
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport=VIEWPORT)
        open_run(page, port)
        page.screenshot(path=str(out / "data_and_model.png"))
        visit(page, "Explore", "Regions by evidence")
        page.screenshot(path=str(out / "explore.png"))
        shoot_element(page, "Colour by", out / "explore_map.png")
        shoot_element(page, "Regions by evidence", out / "explore_regions.png")
        visit(page, "Augment", "Candidates")
        page.screenshot(path=str(out / "augment.png"))
        shoot_element(page, "Candidates", out / "augment_queue.png")
        topex("decide", "--run", str(run), "--candidate", *ids, "--accept")
        topex("retrain", "--run", str(run))
        visit(page, "Retrain & compare", "Training rounds")
        page.screenshot(path=str(out / "retrain.png"))
        shoot_element(page, "Training rounds", out / "retrain_verdict.png")
        shoot_element(page, "Map", out / "retrain_map.png")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None,
                        help="TOPEX_HOME to use (default: a fresh temporary folder)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    chromium()  # before minutes of training, not after
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        home = (args.home or Path(scratch)).resolve()
        os.environ["TOPEX_HOME"] = str(home)
        os.environ["HF_HUB_OFFLINE"] = "1"
        run, ids = prepare_demo(home)
        server = start_dashboard(args.port)
        try:
            photograph(args.port, args.out, run, ids)
        finally:
            server.terminate()
    print(f"screenshots written to {args.out}")


if __name__ == "__main__":
    main()

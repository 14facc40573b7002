"""How heavy the Explore map is at 100k and 1M rows: every row as a point against the
density picture with only the foreground as points (``plots.DENSITY_ABOVE``).

    python bench/bench_map_weight.py [--rows 100000 1000000] [--no-browser]

For each size and each way: the figure's JSON size, the time to build and serialise it,
and the time to first paint in headless Chromium (Debian's, driven by Playwright: the
figure's JSON and plotly.js in one page, from navigation to Plotly's first
``plotly_afterplot``). Synthetic map: 60 blobs, 6% of rows misclassified, 3 error
clusters; coloured by correctness (the mistakes as points). One JSON line per case.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core import plots
from topex_core.training.hardware import machine_line

CHROMIUM = "/usr/bin/chromium"


def synthetic_map(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 20, (60, 2))
    blob = rng.integers(0, 60, rows)
    xy = centres[blob] + rng.normal(0, 2, (rows, 2))
    points = pd.DataFrame({"text": "t", "label": "a", "pred": "a",
                           "cluster": np.where(blob < 50, blob, -1),
                           "tsne_x": xy[:, 0], "tsne_y": xy[:, 1]})
    points["correct"] = rng.random(rows) > 0.06
    clusters = pd.DataFrame({"cluster": np.arange(50), "name": [f"c{i}" for i in range(50)],
                             "is_error_cluster": np.arange(50) < 3, "rank": np.arange(50)})
    return points, clusters


def build(points: pd.DataFrame, clusters: pd.DataFrame, dense: bool) -> tuple[str, float]:
    threshold = plots.DENSITY_ABOVE
    plots.DENSITY_ABOVE = threshold if dense else len(points) + 1
    try:
        start = time.perf_counter()
        figure = plots.cluster_map(points, clusters, color_by="correct")
        payload = figure.to_json()
        return payload, time.perf_counter() - start
    finally:
        plots.DENSITY_ABOVE = threshold


def first_paint_seconds(payload: str, scratch: Path) -> float:
    from playwright.sync_api import sync_playwright
    from plotly.offline import get_plotlyjs

    page_path = scratch / "map.html"
    page_path.write_text(
        "<html><body><div id='map' style='width:1300px;height:620px'></div>"
        f"<script>{get_plotlyjs()}</script><script>"
        f"const figure = {payload};"
        "const start = performance.now();"
        "Plotly.newPlot('map', figure.data, figure.layout).then(() => {"
        "window.paintMs = performance.now() - start; });"
        "</script></body></html>", encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--use-gl=swiftshader", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        start = time.perf_counter()
        page.goto(page_path.as_uri())
        page.wait_for_function("window.paintMs !== undefined", timeout=600_000)
        seconds = time.perf_counter() - start
        browser.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for rows in args.rows:
            points, clusters = synthetic_map(rows)
            for dense in (False, True):
                payload, build_s = build(points, clusters, dense)
                paint = (None if args.no_browser
                         else round(first_paint_seconds(payload, Path(scratch)), 2))
                print(json.dumps({
                    "benchmark": "map_weight", "rows": rows,
                    "way": "density + foreground" if dense else "every row a point",
                    "json_mb": round(len(payload) / 1e6, 2), "build_s": round(build_s, 2),
                    "first_paint_s": paint, "machine": machine_line(),
                    "date": time.strftime("%Y-%m-%d")}), flush=True)


if __name__ == "__main__":
    main()

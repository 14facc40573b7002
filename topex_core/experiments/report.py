"""The Markdown report of one or more experiments (``experiment``), every number computed.

Tables, in the shapes of the TopEx paper:

- base accuracy per dataset, mean ± 95% interval over seeds, beside the paper's BERT
  figure where the dataset is one the paper used;
- Table 1: each strategy's mean Δ test accuracy (over every n and seed) as a share of the
  best selection metric's mean Δ, per dataset;
- Table 2: absolute Δ test accuracy (points) per strategy and n, mean ± 95% interval, and
  the same against the control retrained without samples (what the samples themselves
  added, beyond the retraining);
- the target region against the label-matched control: per strategy and n, the target,
  its complement and the rest of the test split, each pooled over seeds by test row
  (``pooled``) with McNemar's exact p and interval, the verdict, the shift of predictions
  toward the target's label, and the target against the plain control beside it;
- the share of generated samples that passed every automatic check, per strategy, with
  the checks that fired most (from ``samples.jsonl``).

Intervals of Δ are Student-t over seeds (none with one seed). The significance mark
(``*``, p < 0.05) is McNemar's exact test on the test rows fixed and broken, each row
counted once over the seeds (``pooled``); experiments written before ``outcomes.jsonl``
kept no rows, so they get no mark.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from topex_core.experiments.folder import (
    EXPERIMENT_FILE,
    RESULTS_FILE,
    SAMPLES_FILE,
    read_outcomes,
)
from topex_core.experiments.pooled import pooled_counts, pooled_table
from topex_core.experiments.strategies import SELECTIONS, STRATEGIES
from topex_core.retraining.paired import mcnemar_exact

PAPER_BASE_ACCURACY = {"imdb": 89.4, "agnews": 87.8, "hans": 81.4, "trec": 84.1}
SIGNIFICANCE = 0.05


def summarise(results: pd.DataFrame, outcomes: dict[str, list[dict]] | None = None
              ) -> pd.DataFrame:
    """One row per (dataset, strategy, n): seeds, mean and 95% half-width of Δ (points),
    test rows fixed and broken against the base model, each row once over the seeds, and
    their McNemar p (``outcomes``: each dataset's outcome lines; without them the counts
    are summed over seeds and p is NaN)."""
    ok = results[results["status"] == "ok"]
    rows = []
    for (dataset, strategy, n), group in ok.groupby(["dataset", "strategy", "n"], sort=False):
        deltas = 100.0 * group["delta"].to_numpy(float)
        lines = [line for line in (outcomes or {}).get(dataset, [])
                 if line["split"] == "test" and line["strategy"] == strategy
                 and line["n"] == n and line["seed"] in set(group["seed"])]
        if len(lines) == len(group):
            _, fixed, broken = pooled_counts(lines, "overall", against="base")
            p = mcnemar_exact(fixed, broken)
        else:
            fixed, broken, p = int(group["fixed"].sum()), int(group["broken"].sum()), np.nan
        rows.append({"dataset": dataset, "strategy": strategy, "n": int(n),
                     "seeds": len(group), "delta_mean": float(deltas.mean()),
                     "delta_half_width": _half_width(deltas), "fixed": fixed,
                     "broken": broken, "p": p})
    return pd.DataFrame(rows)


def against_control(results: pd.DataFrame) -> pd.DataFrame:
    """Like ``summarise`` for one dataset, with Δ taken against the ``none`` control of the
    same seed instead of the base model (no McNemar p: fixed and broken rows were counted
    against the base)."""
    ok = results[results["status"] == "ok"]
    control = ok[ok["strategy"] == "none"].set_index("seed")["accuracy"]
    rows = []
    for (strategy, n), group in ok[ok["strategy"] != "none"].groupby(["strategy", "n"],
                                                                      sort=False):
        group = group[group["seed"].isin(control.index)]
        if group.empty:
            continue
        deltas = 100.0 * (group["accuracy"].to_numpy(float)
                          - control.loc[group["seed"]].to_numpy(float))
        rows.append({"strategy": strategy, "n": int(n), "seeds": len(group),
                     "delta_mean": float(deltas.mean()),
                     "delta_half_width": _half_width(deltas), "p": float("nan")})
    return pd.DataFrame(rows)


def render_report(experiment_dirs: list[Path], command: str | None = None) -> str:
    """The report of the experiments in ``experiment_dirs`` (one per dataset, or more);
    ``command`` is the one that wrote it, if any."""
    results = pd.concat([pd.read_csv(Path(d) / RESULTS_FILE) for d in experiment_dirs],
                        ignore_index=True)
    metas = [json.loads((Path(d) / EXPERIMENT_FILE).read_text(encoding="utf-8"))
             for d in experiment_dirs]
    outcomes = {meta["config"]["dataset_name"]: read_outcomes(Path(d))
                for meta, d in zip(metas, experiment_dirs, strict=True)}
    summary = summarise(results, outcomes)
    parts = ["# TopEx experiment report", "",
             "Produced by `topex experiment` / `topex experiment-report`; no number below was "
             "typed by hand.", "", "## How it was made", ""]
    parts += _provenance(metas, results)
    if command:
        parts.append(f"- this report: `{command}`")
    parts += ["", "## Base accuracy (test split)", "", _base_table(results), ""]
    parts += _groups_section(results, outcomes)
    parts += ["## Table 1: share of the best metric's gain", "",
              "Mean Δ test accuracy over every n and seed, as a share of the best selection "
              "metric's mean Δ on that dataset (100% = the best metric). When no metric "
              "gained, shares are not defined and only the mean Δ is shown.", "",
              _share_table(summary), "", "## Table 2: Δ test accuracy per n", "",
              "Δ in accuracy points against the base model of the same seed, mean ± 95% "
              "interval over seeds; `*` marks p < 0.05 (McNemar's exact test on the test "
              "rows fixed and broken, each row counted once over the seeds).", ""]
    for dataset in summary["dataset"].unique() if not summary.empty else []:
        parts += [f"### {dataset}", "", _delta_table(summary[summary["dataset"] == dataset]),
                  ""]
        against = against_control(results[results["dataset"] == dataset])
        if not against.empty:
            parts += ["Against the control (accuracy minus the control's, same seed): what "
                      "the samples added beyond retraining itself.", "",
                      _delta_table(against, control_line=False), ""]
    parts += ["## Samples that passed every check", "",
              "Share of the samples generated for a picked cluster on which none of the "
              "Augment page's checks fired (duplicate, length, intrusion, topic, meta-talk, "
              "refusal, echo, repetition; the prediction check is left out), and the checks "
              "that fired most. Every sample was added all the same.", "",
              _checks_table(results, _samples(experiment_dirs)), "",
              "## Clusters picked", "", _picks_table(results), "",
              "## Runs that did not train", "", _failures(results), ""]
    return "\n".join(parts)


def write_report(experiment_dirs: list[Path], out: Path, command: str | None = None) -> Path:
    out = Path(out)
    out.write_text(render_report(experiment_dirs, command), encoding="utf-8")
    return out


def dataset_key(name: str) -> str:
    """A dataset name reduced to letters and digits ('AG News' → 'agnews')."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _half_width(values: np.ndarray) -> float:
    if len(values) < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def _provenance(metas: list[dict], results: pd.DataFrame) -> list[str]:
    lines = []
    for meta in metas:
        config, machine = meta["config"], meta["machine"]
        lines += [f"- **{config['dataset_name']}**: generator `{config['generator']}`, retrain "
                  f"`{config['retrain_mode']}`, backbone `{_short(config['train']['backbone'])}`"
                  f", train size {config['train']['train_size']}, {config['train']['epochs']} "
                  f"epochs, seeds {config['seeds']}."]
        for command in meta.get("commands", []):
            lines.append(f"  - command: `{command}`")
        if "seconds" in meta:
            lines.append(f"  - wall time of the last invocation: {meta['seconds'] / 60:.1f} min")
        fast = {True: ", bfloat16 fast", False: ", no fast bfloat16 (float32)"}.get(
            machine.get("fast_bfloat16"), "")  # experiments before the record had it: unknown
        lines.append(f"  - machine: {machine['cpu_count']} CPUs ({machine['processor']}), "
                     f"device `{machine['device']}`{fast}, {machine['platform']}")
    lines.append("- Synthetic samples are labelled with the picked cluster's target class "
                 "(its majority true label) automatically: no human reviewed them. "
                 "`eda_random` rewrites random training rows and keeps their labels; `none` "
                 "is the control: the same retraining with no sample added.")
    reused = results["reused_from"].notna().sum()
    if reused:
        lines.append(f"- {reused} rows reuse the retrained result of another strategy that "
                     "picked the same cluster in the same seed (identical samples).")
    return lines


def _short(backbone: str) -> str:
    """A local model directory by its last two path parts, a hub id as it is."""
    parts = Path(backbone).parts
    return "/".join(parts[-2:]) if Path(backbone).is_absolute() else backbone


def _base_table(results: pd.DataFrame) -> str:
    lines = ["| dataset | seeds | base accuracy (%) | paper, BERT (%) |", "|---|---|---|---|"]
    per_seed = results.drop_duplicates(["dataset", "seed"])
    for dataset, group in per_seed.groupby("dataset", sort=False):
        accuracies = 100.0 * group["base_accuracy"].to_numpy(float)
        paper = PAPER_BASE_ACCURACY.get(dataset_key(dataset))
        lines.append(f"| {dataset} | {len(group)} | "
                     f"{_mean_interval(accuracies.mean(), _half_width(accuracies), sign=False)} | "
                     f"{'—' if paper is None else f'{paper:.1f}'} |")
    return "\n".join(lines)


def _share_table(summary: pd.DataFrame) -> str:
    if summary.empty:
        return "No finished runs."
    datasets = list(summary["dataset"].unique())
    lines = ["| strategy | " + " | ".join(datasets) + " |",
             "|---|" + "---|" * len(datasets)]
    mean_delta = summary.groupby(["dataset", "strategy"], sort=False).apply(
        lambda g: float(np.average(g["delta_mean"], weights=g["seeds"])), include_groups=False)
    for strategy in _ordered(summary["strategy"].unique()):
        cells = []
        for dataset in datasets:
            if (dataset, strategy) not in mean_delta.index:
                cells.append("—")
                continue
            best = max((mean_delta[(dataset, s)] for s in SELECTIONS
                        if (dataset, s) in mean_delta.index), default=float("nan"))
            value = mean_delta[(dataset, strategy)]
            share = f" ({100 * value / best:.0f}%)" if best > 0 else ""
            cells.append(f"{value:+.2f}{share}")
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _delta_table(summary: pd.DataFrame, *, control_line: bool = True) -> str:
    sizes = sorted(n for n in summary["n"].unique() if n > 0)
    lines = ["| strategy | " + " | ".join(f"n = {n}" for n in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for strategy in _ordered(summary["strategy"].unique()):
        if strategy == "none":
            continue
        cells = []
        for n in sizes:
            match = summary[(summary["strategy"] == strategy) & (summary["n"] == n)]
            if match.empty:
                cells.append("—")
                continue
            cells.append(_cell(match.iloc[0]))
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    if not control_line:
        return "\n".join(lines)
    lines.append("")
    control = summary[summary["strategy"] == "none"]
    if not control.empty:
        lines.append(f"Control (`none`, retrained with no sample): {_cell(control.iloc[0])}.")
    lines.append("In brackets: test rows fixed / broken, each row once over the seeds.")
    return "\n".join(lines)


def _cell(row: pd.Series) -> str:
    text = _mean_interval(row["delta_mean"], row["delta_half_width"])
    if "fixed" not in row:
        return text
    return text + ("*" if row["p"] < SIGNIFICANCE else "") + f" ({row['fixed']}/{row['broken']})"


def _picks_table(results: pd.DataFrame) -> str:
    picked = results[results["cluster"].notna()].drop_duplicates(["dataset", "seed", "strategy"])
    if picked.empty:
        return "No cluster was picked."
    lines = ["| dataset | seed | strategy | cluster | name | size | errors | target |",
             "|---|---|---|---|---|---|---|---|"]
    for row in picked.to_dict("records"):
        name = str(row["cluster_name"]).replace("|", "\\|")
        lines.append(f"| {row['dataset']} | {row['seed']} | {row['strategy']} | "
                     f"{int(row['cluster'])} | {name} | {int(row['cluster_size'])} | "
                     f"{int(row['cluster_errors'])} | {row['target_label']} |")
    return "\n".join(lines)


def _samples(experiment_dirs: list[Path]) -> pd.DataFrame:
    """The cluster samples of every experiment that recorded its checks."""
    frames = []
    for folder in experiment_dirs:
        path = Path(folder) / SAMPLES_FILE
        if path.is_file() and path.stat().st_size:
            frames.append(pd.read_json(path, lines=True))
    samples = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if "fired" not in samples:
        return pd.DataFrame(columns=["dataset", "strategy", "fired"])
    return samples[samples["fired"].apply(lambda fired: isinstance(fired, list))]


def _checks_table(results: pd.DataFrame, samples: pd.DataFrame) -> str:
    if samples.empty:
        return "No experiment here recorded its checks."
    generators = results.drop_duplicates("dataset").set_index("dataset")["generator"]
    lines = ["| dataset | generator | strategy | samples | passed every check | checks that "
             "fired most |", "|---|---|---|---|---|---|"]
    for (dataset, strategy), group in samples.groupby(["dataset", "strategy"], sort=False):
        passed = int(sum(not fired for fired in group["fired"]))
        counts = pd.Series([check for fired in group["fired"] for check in fired]).value_counts()
        common = ", ".join(f"{check} {count / len(group):.0%}"
                           for check, count in counts.head(3).items()) or "none"
        lines.append(f"| {dataset} | {generators.get(dataset, '')} | {strategy} | {len(group)} "
                     f"| {passed / len(group):.0%} ({passed}) | {common} |")
    return "\n".join(lines)


def _failures(results: pd.DataFrame) -> str:
    failed = results[results["status"] != "ok"]
    if failed.empty:
        return "None."
    return "\n".join(f"- {r['dataset']} seed {r['seed']} {r['strategy']} n={r['n']}: "
                     f"{r['status']}" for r in failed.to_dict("records"))


def _groups_section(results: pd.DataFrame, outcomes: dict[str, list[dict]]) -> list[str]:
    parts = []
    for dataset, rows in results.groupby("dataset", sort=False):
        table = pooled_table(rows, outcomes.get(dataset, []))
        if table.empty:
            continue
        if not parts:
            parts = ["## The target region against the label-matched control", "",
                     "Each strategy's samples against a control trained with as many "
                     "training rows of the samples' labels instead (the same rows, steps and "
                     "label balance). *Target*: the region's test rows of the label its "
                     "mistakes have; *complement*: its test rows of other labels (what a "
                     "shortcut toward that label breaks); *rest*: every other test row. "
                     "Points beyond the control, the test rows gained / lost (each row "
                     "once over the seeds) and McNemar's exact p; the verdict needs the "
                     "target ≥ 10 points at p < 0.05, the rest ≥ −0.5 and the complement "
                     "not significantly worse. *Share of L*: test rows predicted as the "
                     "target's label by the control → after. *Plain*: the target against "
                     "the control with nothing added.", ""]
        region = rows["region_name"].dropna()
        parts += [f"### {dataset}: {region.iloc[0] if len(region) else 'no region'}", "",
                  "| strategy | n | verdict | target rows | target vs control (interval) "
                  "| gained/lost | p | complement (rows) | rest | share of L | plain |",
                  "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        order = {strategy: index for index, strategy in enumerate(_ordered(table["strategy"]))}
        for row in table.sort_values(["strategy", "n"], key=lambda c: c.map(order)
                                     if c.name == "strategy" else c).to_dict("records"):
            target, complement, rest = row["target"], row["complement"], row["rest"]
            parts.append(
                f"| {row['strategy']} | {row['n']} | {row['verdict'].replace('_', ' ')} | "
                f"{target.test_rows} | {_points(target)} | {target.gained}/{target.lost} | "
                f"{_p(target)} | {_points(complement, interval=False)} "
                f"({complement.test_rows}, {complement.gained}/{complement.lost}, "
                f"p {_p(complement)}) | {_points(rest, interval=False, digits=2)} | "
                f"{row['label_share_control']:.1%} → {row['label_share_after']:.1%} | "
                f"{row['plain_target']:+.1f} |")
        parts.append("")
    return parts


def _points(outcome, *, interval: bool = True, digits: int = 1) -> str:
    if outcome.vs_control is None:
        return "—"
    text = f"{100 * outcome.vs_control:+.{digits}f}"
    if interval and outcome.vs_control_ci95 is not None:
        low, high = outcome.vs_control_ci95
        text += f" ({100 * low:+.{digits}f} to {100 * high:+.{digits}f})"
    return text


def _p(outcome) -> str:
    return "—" if outcome.mcnemar_p is None else f"{outcome.mcnemar_p:.2g}"


def _ordered(strategies) -> list[str]:
    order = list(STRATEGIES)
    return sorted(strategies, key=lambda s: order.index(s) if s in order else len(order))


def _mean_interval(mean: float, half_width: float, *, sign: bool = True) -> str:
    text = f"{mean:+.2f}" if sign else f"{mean:.2f}"
    return text if np.isnan(half_width) else f"{text} ± {half_width:.2f}"

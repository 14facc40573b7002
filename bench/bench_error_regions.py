"""Error regions on real data: how many of the model's mistakes the error clusters and
slices hold, how pure they are, whether cluster names are backed by their texts, and
whether planted errors are found and named.

    python bench/bench_error_regions.py                      # every dataset below
    python bench/bench_error_regions.py --only trec planted_flip
    python bench/bench_error_regions.py --only hans planted_flip --space logits features both
    python bench/bench_error_regions.py --only planted_concept --concepts off  # term slices
    python bench/bench_error_regions.py --describe   # and a checked sentence per region
    python bench/bench_error_regions.py --only hans_full --seed 1   # another model

Datasets (read from ../shared/datasets, never copied): the embedded demo, TREC, AG News,
AG News Business vs Sci/Tech (``ag_news_two``, two classes), HANS (a seeded 6,000-row
sample of its 24,000 pairs), and three planted sets built here:

- ``planted_flip``: AG News World vs Business (two classes) with the label of every text
  mentioning "oil" flipped: a topical systematic error, written with one word.
- ``planted_rare``: AG News (four classes) where the Sci/Tech texts about space (one of
  twelve words: "nasa", "space", "mars", "planet", "shuttle", …; a rare sub-topic, 122
  rows) are labelled World, except those in the 1,000-row training sample: a sub-topic
  whose labelling the model never saw. (Relabelled in the training sample too, the model
  learned it: 86 of 107 predicted World, no error region.)
- ``planted_concept``: AG News where the Sports texts about baseball (one of eleven words:
  "baseball", "yankees", "red sox", "inning", "pitcher", …) are labelled Business, outside
  the training sample: a flipped topic written with several words.

A real sentiment set with no planting: ``movie_snippets`` (``movie_snippets.py``: 10,566
Rotten Tomatoes sentences, positive or negative by the mean of about twenty human ratings,
loaded whole as a user would, 20% held out; ``make bench-data`` fetches it). With no
taxonomy, its ten strongest regions are listed with how strongly people rated their rows
(``ratings``: the median |rating| and the share rated mildly, |rating| ≤ 1, against the
pool's): a region of mildly rated rows would be sentences people disagree on, not a
failure a repair can fix.

Real failure taxonomies: ``trec`` carries ``fine_label`` (50 real sub-types of its six
classes) and ``hans_full`` is HANS's whole 24,000-pair training file as a user would load
it (20% held out by default), whose ``subcase`` is a real taxonomy of 30 syntactic
templates. A group *fails* when its pool error rate is at least twice the pool's (and it
has at least ``MIN_GROUP_ROWS`` rows); of the ten strongest regions by evidence, a *hit*
has at least half its rows in one failing group. Reported (``taxonomy``): P@10 (hits over
the regions scored), the failing groups found (the groups of the hits) of all failing
groups, the share of the failing groups' mistakes inside hit regions, and the share of all
mistakes inside the ten regions (coverage). The regions ranked and their groups are
listed.

For the planted sets, the planted mistakes are the misclassified rows with a planted word
(and the planted label); each of the first three slices and the first three regions by
evidence (the default target first) is scored by its F1 against them and whether its name
holds a word of the planted ones ("sox" of "red sox"). ``--describe`` has the packaged
SmolLM2 describe the five strongest regions and reports how many sentences the check kept
and how much their retrieved rows fail beyond the base rate.

Each dataset: fine-tune MiniLM on 1,000 rows (3 epochs, seed 0; cached by content),
explore with default settings, then measure on the pool (one JSON line per dataset):
error recall (share of misclassified rows inside an error cluster or slice; also each on
its own), purity (share of rows inside them that are misclassified), name support (share
of error-cluster keywords found in ≥ 2 of their cluster's texts), name coverage (mean
share of an error cluster's texts containing one of its keywords), the explorer's time,
the default target (its mistakes, rows and test rows), and for planted sets how well the
first regions hold the planted mistakes (below).
With ``--space``, each dataset is explored in each of the given spaces (``explorer.space``)
from the same fitted model, one JSON line each.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from movie_snippets import SOURCE, MissingBenchData, movie_snippets

from topex_core.augmenter.describe import describe_backend, describe_regions
from topex_core.data.dataset import dataset_from_frame, load_dataset
from topex_core.data.demo import load_demo
from topex_core.data.split import DEFAULT_TEST_SIZE
from topex_core.data.texts import point_texts
from topex_core.exploredir import read_explore, read_slices
from topex_core.explorer.concepts import ConceptConfig
from topex_core.explorer.explored import ExploredRun, in_error_regions
from topex_core.explorer.pipeline import ExploreConfig, explore_run
from topex_core.explorer.slices import SliceConfig
from topex_core.explorer.space import SPACES
from topex_core.explorer.terms import phrases
from topex_core.rundir import read_points
from topex_core.training.classifier import TrainConfig, set_cpu_threads, training_positions
from topex_core.training.embeddings import SentenceEmbedder
from topex_core.training.hardware import machine_line
from topex_core.training.run import train_run

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
# datasets with a real taxonomy of sub-populations: (file, its group column)
TAXONOMIES = {"trec": (SHARED / "trec" / "train.csv", "fine_label"),
              "hans_full": (SHARED / "hans" / "train.csv", "subcase")}
MIN_GROUP_ROWS = 10  # a failing group needs at least this many pool rows
MILD_RATING = 1.0  # |mean rating| at or below which people rated a snippet only mildly
TOP_REGIONS = 10
PLANTED_WORDS = {
    "planted_flip": ["oil"],
    "planted_rare": ["nasa", "space", "mars", "planet", "astronomers", "shuttle", "moon",
                     "telescope", "orbit", "saturn", "spacecraft", "cassini"],
    "planted_concept": ["baseball", "yankees", "red sox", "pitcher", "inning", "innings",
                        "mets", "homer", "astros", "cardinals", "world series"]}


# the planted label of the sets relabelled outside the training sample: (from, to)
PLANTED_LABELS = {"planted_rare": ("Sci/Tech", "World"),
                  "planted_concept": ("Sports", "Business")}


def planted_rows(frame: pd.DataFrame, name: str) -> np.ndarray:
    """(N,) bool: the rows of ``frame`` whose text has one of the planted topic's words."""
    pattern = "|".join(rf"\b{word}\b" for word in PLANTED_WORDS[name])
    return frame["text"].str.lower().str.contains(pattern).to_numpy()


def dataset(name: str, seed: int = TrainConfig().seed):
    """The named dataset; a planted set keeps its sub-topic out of the training sample that
    ``seed`` draws."""
    if name == "demo":
        return load_demo()[0]
    if name in ("trec", "ag_news"):
        return load_dataset(SHARED / name / "train.csv")
    if name == "hans":
        frame = pd.read_csv(SHARED / "hans" / "train.csv").sample(6_000, random_state=0)
        return dataset_from_frame(frame, source="hans (6,000-row sample)",
                                  text_col="premise", text_pair_col="hypothesis")
    if name == "movie_snippets":
        return dataset_from_frame(movie_snippets()[["text", "label"]], source=SOURCE)
    if name == "hans_full":
        return load_dataset(SHARED / "hans" / "train.csv", text_col="premise",
                            text_pair_col="hypothesis")
    frame = pd.read_csv(SHARED / "ag_news" / "train.csv")
    if name == "ag_news_two":
        frame = frame[frame["label"].isin(["Business", "Sci/Tech"])]
        return dataset_from_frame(frame.reset_index(drop=True), source=name)
    if name == "planted_flip":
        frame = frame[frame["label"].isin(["World", "Business"])].copy()
        topic = planted_rows(frame, name)
        frame.loc[topic, "label"] = frame.loc[topic, "label"].map(
            {"World": "Business", "Business": "World"})
    else:
        frame = relabelled(frame, name, seed)
    return dataset_from_frame(frame.reset_index(drop=True), source=name)


def relabelled(frame: pd.DataFrame, name: str, seed: int | None) -> pd.DataFrame:
    """``frame`` with the rows of planted set ``name``'s topic (of its true label) given its
    planted label, except in the training sample the default fine-tune draws with ``seed``
    (None: every row, as in a test split)."""
    planted_from, planted_to = PLANTED_LABELS[name]
    topic = planted_rows(frame, name) & (frame["label"] == planted_from).to_numpy()
    if seed is not None:
        topic[training_positions(len(frame), TrainConfig().train_size, seed)] = False
    frame = frame.copy()
    frame.loc[topic, "label"] = planted_to
    return frame


def measure(run_dir: Path, name: str, explore_s: float) -> dict:
    meta, clusters = read_explore(run_dir)
    points = read_points(run_dir)
    slices, members = read_slices(run_dir)
    wrong = ~points["correct"].to_numpy(bool)
    error_ids = clusters.loc[clusters["is_error_cluster"], "cluster"]
    in_clusters, in_slices = in_error_regions(points, clusters, members)
    either = in_clusters | in_slices
    texts = point_texts(points)
    support, coverage = [], []
    for cluster, keywords in zip(clusters["cluster"], clusters["keywords"], strict=True):
        if cluster not in set(error_ids):
            continue
        words = keywords.split("; ") if isinstance(keywords, str) else []
        member_terms = [set(phrases(texts[i]))
                        for i in np.flatnonzero(points["cluster"] == cluster)]
        support += [sum(word in terms for terms in member_terms) >= 2 for word in words]
        coverage.append(np.mean([bool(terms & set(words)) for terms in member_terms]))
    result = {
        "benchmark": "error_regions", "dataset": name, "space": meta.space,
        "rows": len(points),
        "classes": len(meta.normaliser_minimums), "mistakes": int(wrong.sum()),
        "error_clusters": meta.error_clusters, "slices": meta.slices,
        "recall": _share(wrong & either, wrong), "purity": _share(wrong & either, either),
        "recall_clusters": _share(wrong & in_clusters, wrong),
        "purity_clusters": _share(wrong & in_clusters, in_clusters),
        "recall_slices": _share(wrong & in_slices, wrong),
        "purity_slices": _share(wrong & in_slices, in_slices),
        "recall_at_purity_60": _recall_at_purity(points, clusters, error_ids, members, wrong,
                                                 0.6),
        "recall_clusters_at_purity_60": _recall_at_purity(points, clusters, error_ids, {},
                                                          wrong, 0.6),
        "name_support": round(float(np.mean(support)), 3) if support else None,
        "name_coverage": round(float(np.mean(coverage)), 3) if coverage else None,
        "no_shared_wording": int((clusters.loc[clusters["is_error_cluster"], "keywords"]
                                  .fillna("") == "").sum()),
        "top_slices": slices["slice"].head(3).tolist(),
        "explore_s": round(explore_s, 2), "stages_s": meta.timings_s,
    }
    target = ExploredRun.load(run_dir).default_target()
    result["default_target"] = None if target is None else {
        "region": target.title, "mistakes": target.errors, "rows": len(target.rows),
        "test_rows": len(target.test_rows)}
    if name in PLANTED_WORDS:
        result.update(planted_found(run_dir, name))
    if name in TAXONOMIES:
        result["taxonomy"] = taxonomy_found(run_dir, *TAXONOMIES[name])
    if name == "movie_snippets":
        result["ratings"] = rated_regions(run_dir, movie_snippets()["rating"].to_numpy())
    return result


def rated_regions(run_dir: Path, ratings: np.ndarray) -> dict:
    """The ten strongest regions with how strongly people rated their rows (``ratings``
    by row id), beside the pool: median |rating| and the share at most ``MILD_RATING``."""
    explored = ExploredRun.load(run_dir)
    strength = np.abs(ratings[explored.points["id"].to_numpy()])
    wrong = ~explored.points["correct"].to_numpy(bool)

    def rated(rows: np.ndarray) -> dict:
        return {"median_abs_rating": round(float(np.median(strength[rows])), 2),
                "mild": round(float(np.mean(strength[rows] <= MILD_RATING)), 3)}

    regions = explored.by_evidence()[:TOP_REGIONS]
    return {"pool": rated(np.arange(len(strength))), "mistakes": rated(np.flatnonzero(wrong)),
            "coverage": round(explored.mistakes_held(regions) / max(int(wrong.sum()), 1), 3),
            "regions": [{"region": region.title, "rows": len(region.rows),
                         "mistakes": region.errors, **rated(region.rows)}
                        for region in regions]}


def taxonomy_found(run_dir: Path, source: Path, column: str) -> dict:
    """How the ten strongest regions meet a real taxonomy of the pool's rows (``column``
    of ``source``, read by row id): see the module."""
    explored = ExploredRun.load(run_dir)
    points = explored.points
    groups = pd.read_csv(source)[column].astype(str).to_numpy()[points["id"].to_numpy()]
    wrong = ~points["correct"].to_numpy(bool)
    table = pd.DataFrame({"group": groups, "wrong": wrong}).groupby("group")["wrong"].agg(
        ["size", "sum", "mean"])
    failing = table[(table["size"] >= MIN_GROUP_ROWS)
                    & (table["mean"] >= 2 * wrong.mean())].sort_values("sum", ascending=False)
    regions = explored.by_evidence()[:TOP_REGIONS]
    scored, found, hit_rows = [], set(), np.zeros(len(points), bool)
    any_region = np.zeros(len(points), bool)
    for region in regions:
        shares = pd.Series(groups[region.rows]).value_counts(normalize=True)
        group, share = (shares.index[0], float(shares.iloc[0])) if len(shares) else ("", 0.0)
        hit = share >= 0.5 and group in failing.index
        if hit:
            found.add(group)
            hit_rows[region.rows] = True
        any_region[region.rows] = True
        scored.append({"region": region.title, "rows": len(region.rows),
                       "mistakes": region.errors, "group": group, "share": round(share, 2),
                       "hit": hit})
    in_failing = np.isin(groups, failing.index) & wrong
    return {"failing_groups": {group: f"{int(row['sum'])} of {int(row['size'])}"
                               for group, row in failing.iterrows()},
            "p_at_10": round(sum(r["hit"] for r in scored) / max(len(scored), 1), 2),
            "failing_found": f"{len(found)} of {len(failing)}", "found": sorted(found),
            "failing_mistakes_in_hits": _share(in_failing & hit_rows, in_failing),
            "coverage": _share(wrong & any_region, wrong), "regions": scored}


def planted_found(run_dir: Path, name: str) -> dict:
    """How well the first regions hold the planted mistakes: for each of the first three
    slices (concepts included) and the first three regions in the explorer's order of
    evidence, its F1 against the planted mistakes (misclassified rows with a planted word
    and the planted label), and whether its name has a planted word."""
    explored = ExploredRun.load(run_dir)
    points = explored.points
    planted_label = {"planted_flip": None, "planted_rare": "World",
                     "planted_concept": "Business"}[name]
    planted = (planted_rows(points.assign(text=point_texts(points)), name)
               & ~points["correct"].to_numpy(bool))
    if planted_label is not None:
        planted &= (points["label"].astype(str) == planted_label).to_numpy()
    words = {token for word in PLANTED_WORDS[name] for token in word.split()}

    def found(region) -> dict:
        inside = np.zeros(len(points), bool)
        inside[region.rows] = True
        hits = int((inside & planted).sum())
        return {"region": region.name, "rows": int(inside.sum()),
                "f1": round(2 * hits / (inside.sum() + planted.sum()), 3),
                "named": bool(words & {token for term in region.terms
                                       for token in term.split()})}

    return {"planted_mistakes": int(planted.sum()),
            "first_slices": [found(region) for region in explored.regions("slice")[:3]],
            "first_regions": [found(region) for region in explored.by_evidence()[:3]]}


def described(run_dir: Path, describer, embedder) -> dict:
    """How many of the five strongest regions' sentences the check kept, and how much the
    rows they retrieve fail against the rows searched."""
    started = time.perf_counter()
    found = describe_regions(ExploredRun.load(run_dir), describer, embed=embedder)
    kept = [d for d in found if d.kept]
    return {"written": len(found), "kept": len(kept),
            "kept_lift_min": min((d.check.lift for d in kept), default=None),
            "kept_lift_mean": round(float(np.mean([d.check.lift for d in kept])), 2)
            if kept else None,
            "sentences": [(d.sentence, d.check.lift, d.kept) for d in found],
            "describe_s": round(time.perf_counter() - started, 1)}


def _recall_at_purity(points: pd.DataFrame, clusters: pd.DataFrame, error_ids: pd.Series,
                      members: dict[str, np.ndarray], wrong: np.ndarray,
                      purity: float) -> float:
    """Error clusters and slices taken in order of error rate while the rows they hold
    together stay at least ``purity`` misclassified: the share of mistakes they hold."""
    regions = [points["cluster"].to_numpy() == c for c in error_ids]
    regions += [points["id"].isin(ids).to_numpy() for ids in members.values()]
    regions.sort(key=lambda region: -wrong[region].mean())
    covered = np.zeros(len(points), bool)
    for region in regions:
        widened = covered | region
        if wrong[widened].mean() < purity:
            break
        covered = widened
    return round(float((wrong & covered).sum() / max(wrong.sum(), 1)), 3)


def _share(part: np.ndarray, whole: np.ndarray) -> float | None:
    return round(float(part.sum() / whole.sum()), 3) if whole.sum() else None


def main() -> None:
    names = ["demo", "trec", "ag_news", "ag_news_two", "hans", "hans_full", "movie_snippets",
             "planted_flip", "planted_rare", "planted_concept"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=names, choices=names)
    parser.add_argument("--space", nargs="+", default=["logits"], choices=SPACES)
    parser.add_argument("--concepts", default="on", choices=["on", "off"],
                        help="off: term slices only, as before concepts")
    parser.add_argument("--seed", type=int, default=TrainConfig().seed,
                        help="the fine-tune's seed and training sample: another seed is "
                             "another model, with failures of its own")
    parser.add_argument("--describe", action="store_true",
                        help="describe the five strongest regions with the packaged SmolLM2")
    args = parser.parse_args()
    describer = describe_backend("transformers") if args.describe else None
    threads = set_cpu_threads()
    embedder = SentenceEmbedder()
    embedder(["warm-up"])
    for name in args.only:
        try:
            data = dataset(name, args.seed)
        except MissingBenchData as missing:
            print(json.dumps({"benchmark": "error_regions", "dataset": name,
                              "skipped": str(missing)}), flush=True)
            continue
        with tempfile.TemporaryDirectory() as scratch:
            run_dir = Path(scratch) / "run"
            # planted_rare and planted_concept keep their sub-topic out of the training rows
            # chosen on the whole set, so nothing may be held out from under it
            kept_out = name in ("planted_rare", "planted_concept")
            train_run(data, TrainConfig(seed=args.seed), run_dir,
                      test_size=0.0 if kept_out else DEFAULT_TEST_SIZE)
            for space in args.space:
                start = time.perf_counter()
                slice_config = SliceConfig(concepts=None if args.concepts == "off"
                                           else ConceptConfig())
                explore_run(run_dir, ExploreConfig(space=space, slices=slice_config),
                            embed=embedder)
                result = measure(run_dir, name, time.perf_counter() - start)
                if describer is not None:
                    result["descriptions"] = described(run_dir, describer, embedder)
                print(json.dumps({**result, "threads": threads, "machine": machine_line()},
                                 ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()

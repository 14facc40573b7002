"""Candidate generation: the EDA backend on CPU and the OpenAI-compatible client's overhead.

    python bench/bench_generation.py [--candidates 1000]

EDA: ``--candidates`` rewrites of real demo tickets (synonyms from their own vocabulary,
embedded with MiniLM), parsed. Checks: the same candidates checked against the 10,000
demo rows with MiniLM and the classifier left out (the reference embedding is a one-off
per run and reported apart). OpenAI protocol: the same number of completions from a
local chat-completions server (tests/chat_server.py, no model behind it, so this measures
the client and HTTP, not an engine): one request with ``n`` set per 50 completions
against one request per completion.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from topex_core.augmenter.generation import Sampling, make_backend, parse_output
from topex_core.augmenter.generation.eda import EdaBackend, vocabulary_synonyms
from topex_core.augmenter.prompts import Example, build_prompt
from topex_core.data import demo
from topex_core.training.embeddings import SentenceEmbedder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def eda_prompt():
    pool, _ = demo.load_demo()
    billing = pool.label_names.index("billing")
    texts = [t for t, label in zip(pool.texts, pool.labels, strict=True) if label == billing][:50]
    examples = [Example(text, row_id=i) for i, text in enumerate(texts[:5])]
    return texts, build_prompt(task="ticket", label="billing", issue="premium tier downgrade",
                               examples=examples)


def check_candidates(texts: list[str]) -> None:
    import numpy as np

    from topex_core.augmenter.checks import CandidateChecker

    pool, _ = demo.load_demo()
    points = pool.to_frame()
    points["cluster"] = np.where(points["label"] == "billing", 0, -1)
    embed = SentenceEmbedder()
    reference_s, reference = timed(lambda: embed(points["text"].tolist()))
    everything = np.arange(len(points))
    checker = CandidateChecker(points, reference, everything,
                               np.flatnonzero(points["cluster"] == 0), embed=embed,
                               predict=None, label_names=pool.label_names)
    check_s, _ = timed(lambda: checker.check(texts, None, ["billing"] * len(texts)))
    print(json.dumps({"bench": "checks", "candidates": len(texts), "reference_rows": len(points),
                      "reference_embedding_s": round(reference_s, 2),
                      "check_s": round(check_s, 2)}))


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=1000)
    args = parser.parse_args()
    n = args.candidates
    texts, prompt = eda_prompt()
    synonyms_s, synonyms = timed(lambda: vocabulary_synonyms(texts, SentenceEmbedder()))
    backend = EdaBackend(synonyms)
    batched_s, outputs = timed(lambda: [parse_output(o.raw, pair=False) for o in
                                        backend.generate([prompt], n, Sampling())])
    print(json.dumps({"bench": "eda", "candidates": n, "generate_and_parse_s": round(batched_s, 3),
                      "synonyms_s": round(synonyms_s, 2), "synonym_words": len(synonyms),
                      "parsed": sum(len(items) for items in outputs)}))
    check_candidates([item.text for items in outputs for item in items])

    from chat_server import ChatServer

    per_request = 50
    with ChatServer("ok") as server:
        client = make_backend("openai", base_url=server.base_url, model="bench")
        with_n_s, got = timed(lambda: [o for _ in range(n // per_request)
                                       for o in client.generate([prompt], per_request,
                                                                Sampling())])
        single = make_backend("openai", base_url=server.base_url, model="bench", concurrency=1)
        single_s, _ = timed(lambda: [single.generate([prompt], 1, Sampling(seed=i))
                                     for i in range(n)])
    print(json.dumps({"bench": "openai_client", "completions": len(got),
                      "n_per_request_s": round(with_n_s, 3),
                      "one_request_each_s": round(single_s, 3),
                      "ratio": round(single_s / with_n_s, 2)}))


if __name__ == "__main__":
    main()

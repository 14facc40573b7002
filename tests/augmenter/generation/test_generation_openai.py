"""The openai backend against a real local HTTP server speaking chat completions."""

from __future__ import annotations

import socket

import pytest
from chat_server import ChatServer

from topex_core.augmenter.generation import GenerationError, Sampling, make_backend
from topex_core.augmenter.prompts import build_prompt

PROMPTS = [build_prompt(task="text", label="billing", issue="express fee refund"),
           build_prompt(task="text", label="shipping", issue="late parcel")]


def backend(server: ChatServer, **options):
    options = {"base_url": server.base_url, "model": "tiny-model", "timeout_s": 5.0,
               "max_retries": 1, **options}
    return make_backend("openai", **options)


def test_one_request_per_prompt_asks_for_all_n_with_explicit_sampling() -> None:
    with ChatServer("ok") as server:
        outputs = backend(server).generate(PROMPTS, 3, Sampling(temperature=0.7, seed=11))
    assert len(server.requests) == 2
    request = server.requests[0]
    assert request["n"] == 3 and request["seed"] == 11 and request["temperature"] == 0.7
    assert request["top_p"] == 0.95 and request["max_tokens"] == 256
    assert request["messages"] in [list(p.messages) for p in PROMPTS]
    assert [o.prompt_index for o in outputs] == [0, 0, 0, 1, 1, 1]
    assert {o.raw for o in outputs if o.prompt_index == 0} == {
        f"Sample 11-{i} about the topic." for i in range(3)}
    assert all(o.backend == "openai" and o.model == "tiny-model" and o.tokens == 6
               for o in outputs)


def test_a_server_that_ignores_n_is_topped_up_with_seeded_single_requests() -> None:
    with ChatServer("ignore_n") as server:
        outputs = backend(server).generate(PROMPTS[:1], 3, Sampling(seed=5))
    assert len(outputs) == 3 and len({o.raw for o in outputs}) == 3
    assert [r["n"] for r in server.requests] == [3, 1, 1]
    assert sorted(r["seed"] for r in server.requests[1:]) == [6, 7]


def test_a_server_that_ignores_n_and_the_seed_is_asked_again_within_a_budget() -> None:
    """Like transformers serve with a fixed seed: every answer is the same text. Repeats
    are dropped and asked again, and the asking stops at 3 × n choices."""
    with ChatServer("ignore_n", reply="The same answer every time.") as server:
        outputs = backend(server).generate(PROMPTS[:1], 3, Sampling(seed=5))
    assert [o.raw for o in outputs] == ["The same answer every time."]
    assert sum(r["n"] for r in server.requests) == 3 + 8  # the first ask, then 8 single ones
    assert sorted(r["seed"] for r in server.requests[1:]) == list(range(6, 14))


def test_api_key_is_sent_as_bearer_token() -> None:
    with ChatServer("ok", api_key="s3cret") as server:
        assert len(backend(server, api_key="s3cret").generate(PROMPTS[:1], 1, Sampling())) == 1
        with pytest.raises(GenerationError, match="HTTP 401"):
            backend(server, api_key="wrong").generate(PROMPTS[:1], 1, Sampling())


def test_a_transient_500_is_retried() -> None:
    with ChatServer("fail_once") as server:
        outputs = backend(server, concurrency=1).generate(PROMPTS[:1], 2, Sampling())
    assert len(outputs) == 2 and len(server.requests) == 2


def test_persistent_500_gives_a_clear_error_after_bounded_retries() -> None:
    with ChatServer("error_500") as server, \
            pytest.raises(GenerationError) as failure:
        backend(server, max_retries=2).generate(PROMPTS[:1], 2, Sampling())
    message = str(failure.value)
    assert "HTTP 500" in message and "engine overloaded" in message and "3 attempts" in message
    assert len(server.requests) == 3 and failure.value.received == []


def test_a_client_error_is_not_retried() -> None:
    with ChatServer("bad_request") as server, \
            pytest.raises(GenerationError, match="HTTP 400.*unknown model"):
        backend(server, max_retries=3).generate(PROMPTS[:1], 1, Sampling())
    assert len(server.requests) == 1


def test_malformed_json_gives_a_clear_error() -> None:
    with ChatServer("malformed") as server, \
            pytest.raises(GenerationError, match="not chat-completions JSON"):
        backend(server).generate(PROMPTS[:1], 1, Sampling())


def test_timeout_gives_a_clear_error() -> None:
    with ChatServer("slow", delay_s=3.0) as server, \
            pytest.raises(GenerationError, match=r"no answer .* within 0.5 s.*2 attempts"):
        backend(server, timeout_s=0.5).generate(PROMPTS[:1], 1, Sampling())


def test_server_down_says_how_to_start_one() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = make_backend("openai", base_url=f"http://127.0.0.1:{port}/v1", model="m",
                        max_retries=0)
    with pytest.raises(GenerationError, match="cannot reach .*vllm serve"):
        down.generate(PROMPTS[:1], 1, Sampling())


def test_failures_keep_every_completion_already_received() -> None:
    with ChatServer("ok") as server:
        flaky = backend(server, concurrency=1)
        original = flaky._post

        def fail_second_prompt(body, request, on_delta):
            if request.prompt_index == 1:
                server.mode = "error_500"
            return original(body, request, on_delta)

        flaky._post = fail_second_prompt
        with pytest.raises(GenerationError) as failure:
            flaky.generate(PROMPTS, 2, Sampling())
    kept = failure.value.received
    assert [o.prompt_index for o in kept] == [0, 0]
    assert "2 completions received were kept" in str(failure.value)


def test_streaming_reports_text_as_it_arrives() -> None:
    seen: list[tuple[int, int, str]] = []
    with ChatServer("stream") as server:
        outputs = backend(server, stream=True).generate(
            PROMPTS[:1], 2, Sampling(seed=3), on_delta=lambda p, c, t: seen.append((p, c, t)))
    assert server.requests[0]["stream"] is True
    assert sorted(o.raw.strip() for o in outputs) == ["Sample 3-0 about the topic.",
                                                      "Sample 3-1 about the topic."]
    partial = [text for _, choice, text in seen if choice == 0]
    assert partial[0] == "Sample " and partial[-1].strip() == "Sample 3-0 about the topic."


def test_a_stream_cut_before_done_is_an_error_not_a_truncated_candidate() -> None:
    with ChatServer("stream_cut") as server, \
            pytest.raises(GenerationError, match=r"\[DONE\]") as failure:
        backend(server, stream=True, max_retries=0).generate(PROMPTS[:1], 1, Sampling())
    assert failure.value.received == []


@pytest.mark.parametrize("options, message", [
    ({"base_url": "", "model": "m"}, "base URL"),
    ({"base_url": "ftp://x", "model": "m"}, "base URL"),
    ({"base_url": "http://127.0.0.1:1/v1", "model": ""}, "model name"),
    ({"base_url": "http://127.0.0.1:1/v1", "model": "m", "concurrency": 0}, "concurrency"),
])
def test_bad_settings_are_refused(options: dict, message: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOPEX_OPENAI_BASE_URL", "TOPEX_OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match=message):
        make_backend("openai", **options)


def test_without_a_model_name_the_servers_only_model_is_used(monkeypatch) -> None:
    monkeypatch.delenv("TOPEX_OPENAI_MODEL", raising=False)
    with ChatServer("ok", models=("/root/.topex/cache/generators/smollm2",)) as server:
        outputs = make_backend("openai", base_url=server.base_url).generate(
            PROMPTS[:1], 1, Sampling())
    assert server.requests[0]["model"] == "/root/.topex/cache/generators/smollm2"
    assert outputs[0].model == "/root/.topex/cache/generators/smollm2"
    with ChatServer("ok", models=("a", "b")) as server, \
            pytest.raises(ValueError, match="serves a, b; choose one"):
        make_backend("openai", base_url=server.base_url)


@pytest.mark.parametrize("models", [None, ()])
def test_a_server_that_lists_no_model_answers_with_its_own(models, monkeypatch) -> None:
    """``transformers serve MODEL_DIR`` with no Hugging Face cache: GET /models fails (or
    lists nothing); requests then name no model, and the name its answers carry is the
    one recorded."""
    monkeypatch.delenv("TOPEX_OPENAI_MODEL", raising=False)
    with ChatServer("ok", models=models, pinned="/models/smollm2@main") as server:
        backend = make_backend("openai", base_url=server.base_url)
        outputs = backend.generate(PROMPTS[:1], 2, Sampling())
    assert backend.model == "/models/smollm2@main"
    assert all("model" not in body for body in server.requests)
    assert {output.model for output in outputs} == {"/models/smollm2@main"}
    with ChatServer("error_500", models=None) as server, \
            pytest.raises(ValueError, match="lists none and does not answer without one"):
        make_backend("openai", base_url=server.base_url)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with ChatServer("ok", api_key="env-key") as server:
        monkeypatch.setenv("TOPEX_OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("TOPEX_OPENAI_MODEL", "served-name")
        monkeypatch.setenv("TOPEX_OPENAI_API_KEY", "env-key")
        outputs = make_backend("openai").generate(PROMPTS[:1], 1, Sampling())
    assert outputs[0].model == "served-name" and server.requests[0]["model"] == "served-name"

"""The openai backend against a real ``transformers serve`` process serving the packaged
SmolLM2-135M-Instruct on a free loopback port: the protocol code meets a real server that
returns one choice whatever ``n`` is."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import parts
from local_server import free_port, started_server

from topex_core.augmenter import augment
from topex_core.augmenter.generation import GenerationError, Sampling, make_backend
from topex_core.augmenter.generation.packaged import packaged_model_dir
from topex_core.storage.store import Store


@pytest.fixture()
def served_model(tmp_path_factory: pytest.TempPathFactory):
    command = shutil.which("transformers", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("the transformers CLI is not installed")
    try:
        model_dir = packaged_model_dir(tmp_path_factory.mktemp("cache"))
    except GenerationError as error:
        pytest.skip(str(error))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # a fresh machine: an empty home and no Hugging Face cache, as `make llm-server` meets it
    home = tmp_path_factory.mktemp("home")
    server = started_server(
        [command, "serve", "--host", "127.0.0.1", "--port", str(port),
         "--device", "cpu", str(model_dir)], f"{url}/health", seconds=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HOME": str(home),
             "HF_HOME": str(home / "huggingface")})
    yield f"{url}/v1", str(model_dir)
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.slow
def test_three_candidates_from_a_real_server_are_parsed_checked_and_stored(
        served_model: tuple[str, str], explored: tuple[Path, int], tmp_path: Path) -> None:
    base_url, model = served_model
    run, cluster = explored
    context, checker = parts(run, cluster)
    request = augment.AugmentRequest(n=3, shots=2, sampling=Sampling(max_tokens=48, seed=3))
    prompt = augment.prepare_prompt(context, request)
    # no model name: the server lists none without a cache; its answers name it
    backend = make_backend("openai", base_url=base_url, timeout_s=120.0)
    assert backend.model.startswith(model)
    with Store(tmp_path / "topex.db") as store:
        outcome = augment.generate_candidates(context, request, [prompt], backend=backend,
                                              checker=checker, store=store)
        stored = store.candidates(store.run_id(run))
    assert outcome.error is None, outcome.error
    # the server returns one choice per answer and the backend asks again; a 135M model may
    # answer the same each time, and repeats are dropped (the top-up itself is tested
    # against a server that ignores n, in test_generation_openai.py)
    assert outcome.completions >= 1
    texts = [stored.candidate.text for stored in outcome.candidates]
    assert len(texts) == len(set(texts)) == len(stored) >= 1
    assert set(stored["backend"]) == {"openai"} and set(stored["model"]) == {backend.model}
    assert all(stored.candidate.checks.results for stored in outcome.candidates)
    # a model name the server does not have: one clear line, what arrived before is kept
    wrong = make_backend("openai", base_url=base_url, model="no-such-model", timeout_s=60.0,
                         max_retries=0)
    with Store(tmp_path / "topex.db") as store:
        failed = augment.generate_candidates(context, request, [prompt], backend=wrong,
                                             checker=checker, store=store)
        assert len(store.candidates(store.run_id(run))) == len(stored)
    assert failed.error is not None and failed.error.startswith(f"openai backend at {base_url}")
    assert "\n" not in failed.error and failed.candidates == []

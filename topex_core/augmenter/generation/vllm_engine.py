"""vLLM in process: one ``vllm.LLM`` engine per GPU, all prompts in one ``chat`` call with
``SamplingParams(n=…, seed=…)``. vLLM is imported only here, when the backend is first
used; without vLLM or a GPU the error says what to install or where to run."""

from __future__ import annotations

from collections.abc import Sequence

from topex_core.augmenter.generation.base import (
    Generated,
    GenerationError,
    OnDelta,
    Sampling,
    check_request,
)
from topex_core.augmenter.prompts import Prompt
from topex_core.errors import SettingsError


class VllmBackend:
    name = "vllm"

    def __init__(self, model: str, *, gpu_memory_utilization: float = 0.85,
                 max_model_len: int | None = None) -> None:
        if not model:
            raise SettingsError("the vllm backend needs a model id or directory")
        self.model = model
        self.engine_options = {"gpu_memory_utilization": gpu_memory_utilization}
        if max_model_len:
            self.engine_options["max_model_len"] = max_model_len
        self._engine = None

    def generate(self, prompts: Sequence[Prompt], n: int, sampling: Sampling, *,
                 on_delta: OnDelta | None = None) -> list[Generated]:
        sampling = check_request(prompts, n, sampling)
        engine, sampling_params_type = self._load()
        params = sampling_params_type(n=n, temperature=sampling.temperature,
                                      top_p=sampling.top_p, max_tokens=sampling.max_tokens,
                                      seed=sampling.seed)
        conversations = [list(prompt.messages) for prompt in prompts]
        results = engine.chat(conversations, params, use_tqdm=False)
        outputs = []
        for prompt_index, result in enumerate(results):
            for choice, completion in enumerate(result.outputs):
                if on_delta is not None:
                    on_delta(prompt_index, choice, completion.text)
                outputs.append(Generated(
                    prompt_index=prompt_index, raw=completion.text, backend=self.name,
                    model=self.model, seed=sampling.seed,
                    sampling={**sampling.as_dict(), "n": n},
                    tokens=len(completion.token_ids)))
        return outputs

    def _load(self):
        if self._engine is None:
            try:
                import vllm
            except ImportError:
                raise GenerationError("the vllm backend needs vLLM on a machine with a GPU: "
                                      "pip install -r requirements-gpu.txt; or run "
                                      "'vllm serve MODEL' and use the openai backend") from None
            import torch

            if not torch.cuda.is_available():
                raise GenerationError("the vllm backend needs a CUDA GPU and none is visible; "
                                      "use the openai backend against a vLLM server instead")
            self._engine = (vllm.LLM(model=self.model, **self.engine_options),
                            vllm.SamplingParams)
        return self._engine

"""A local causal language model through transformers' ``AutoModelForCausalLM`` (CPU or
GPU). A prompt's turns go through the tokenizer's chat template when it has one (else its
transcript, ending in "Assistant:"); all prompts are generated in one left-padded batch
with ``num_return_sequences = n``. Without a model, the packaged SmolLM2-135M-Instruct
(``generation.packaged``) is loaded on first use."""

from __future__ import annotations

from collections.abc import Sequence

from topex_core.augmenter.generation.base import (
    Generated,
    GenerationError,
    OnDelta,
    Sampling,
    check_request,
)
from topex_core.augmenter.generation.packaged import PACKAGED_NAME, packaged_model_dir
from topex_core.augmenter.prompts import Prompt


class TransformersBackend:
    name = "transformers"

    def __init__(self, model: str | None = None, *, device: str | None = None,
                 batch_size: int = 8) -> None:
        # ``model`` is what lineage records: the directory or id, or the packaged model's name
        self.model = model or PACKAGED_NAME
        self._source = model
        self.device = device
        self.batch_size = batch_size
        self._loaded = None

    def generate(self, prompts: Sequence[Prompt], n: int, sampling: Sampling, *,
                 on_delta: OnDelta | None = None) -> list[Generated]:
        import torch

        sampling = check_request(prompts, n, sampling)
        model, tokenizer = self.load()
        outputs: list[Generated] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = prompts[start:start + self.batch_size]
            encoded = tokenizer([self._format(tokenizer, p) for p in batch], return_tensors="pt",
                                padding=True).to(model.device)
            _check_context(model, encoded["input_ids"].shape[1], sampling.max_tokens, outputs)
            torch.manual_seed(sampling.seed + start)
            # greedy decoding gives one answer per prompt: it is computed once and repeated
            sample = sampling.temperature > 0
            options = ({"do_sample": True, "temperature": sampling.temperature,
                        "top_p": sampling.top_p, "num_return_sequences": n}
                       if sample else {"do_sample": False})
            try:
                with torch.inference_mode():
                    sequences = model.generate(**encoded, max_new_tokens=sampling.max_tokens,
                                               pad_token_id=tokenizer.pad_token_id, **options)
            except (RuntimeError, ValueError) as error:
                raise GenerationError(f"transformers backend ({self.model}): generation "
                                      f"failed ({error})", outputs) from None
            if not sample:
                sequences = sequences.repeat_interleave(n, dim=0)
            new_tokens = sequences[:, encoded["input_ids"].shape[1]:]
            for row, tokens in enumerate(new_tokens):
                prompt_index = start + row // n
                text = tokenizer.decode(tokens, skip_special_tokens=True)
                if on_delta is not None:
                    on_delta(prompt_index, row % n, text)
                length = int((tokens != tokenizer.pad_token_id).sum())
                outputs.append(Generated(prompt_index=prompt_index, raw=text, backend=self.name,
                                         model=self.model, seed=sampling.seed + start,
                                         sampling={**sampling.as_dict(), "n": n},
                                         tokens=length))
        return outputs

    def load(self):
        """The model and tokenizer, loaded on first call (generate calls it)."""
        if self._loaded is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging

            from topex_core.training.classifier import pick_device

            hf_logging.disable_progress_bar()
            source = self._source or packaged_model_dir()
            try:
                tokenizer = AutoTokenizer.from_pretrained(source)
                model = AutoModelForCausalLM.from_pretrained(source)
            except (OSError, ValueError) as error:
                raise GenerationError(f"transformers backend: cannot load a causal language "
                                      f"model from '{self.model}' ({error})") from None
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
            device = self.device or str(pick_device())
            self._loaded = (model.to(device).eval(), tokenizer)
        return self._loaded

    @staticmethod
    def _format(tokenizer, prompt: Prompt) -> str:
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(list(prompt.messages), tokenize=False,
                                                 add_generation_prompt=True)
        return prompt.text + "\n\nAssistant:"


def _check_context(model, prompt_tokens: int, max_tokens: int, received: list[Generated]) -> None:
    """GenerationError when the prompt and its completion do not fit the model's context
    (past it a model writes noise, or fails deep inside attention)."""
    context = getattr(model.config, "max_position_embeddings", None)
    if context and prompt_tokens + max_tokens > context:
        raise GenerationError(f"the prompt is {prompt_tokens:,} tokens and a completion may take "
                              f"{max_tokens:,} more, but the model reads at most {context:,}; "
                              "use fewer or shorter examples, or fewer max tokens", received)

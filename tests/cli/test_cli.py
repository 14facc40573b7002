from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import one_line

from topex_core.cli.main import main


def test_train_writes_a_run_and_prints_a_summary(tiny_csv: Path, tiny_backbone: str,
                                                 tmp_path: Path, capsys) -> None:
    status = main(["train", "--data", str(tiny_csv), "--test", str(tiny_csv),
                   "--backbone", tiny_backbone, "--train-size", "30", "--epochs", "1",
                   "--precision", "bfloat16", "--out", str(tmp_path / "run")])
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 60 and summary["test_accuracy"] is not None
    assert (tmp_path / "run" / "points.parquet").is_file()
    assert json.loads((tmp_path / "run" / "run.json").read_text())["logits_precision"] == \
        "bfloat16"


@pytest.mark.parametrize(("args", "message"), [
    (["--text-col", "body"], "text column 'body' not found"),
    (["--epochs", "0"], "epochs must be between 1 and 20"),
    (["--backbone", "/no/such/model"], "cannot load backbone"),
])
def test_bad_input_exits_2_with_one_line(tiny_csv: Path, tmp_path: Path, args: list[str],
                                         message: str, capsys) -> None:
    status = main(["train", "--data", str(tiny_csv), "--out", str(tmp_path / "r"), *args])
    captured = capsys.readouterr()
    assert status == 2 and message in captured.err
    assert one_line(captured.err) and captured.err.startswith("topex: error:")


def test_console_script_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"text,label\n\xff\xfe,x\n")
    result = subprocess.run([sys.executable, "-m", "topex_core.cli.main", "train", "--data", str(bad),
                             "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert result.returncode == 2
    assert one_line(result.stderr) and "not valid UTF-8" in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="file not found"):
        main(["train", "--data", str(tmp_path / "x.csv"), "--out", str(tmp_path / "r"), "--debug"])


def test_a_bug_shows_its_traceback_and_exits_1(tiny_csv: Path, tmp_path: Path, capsys,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Only TopexError is a user error; anything else is a bug and must not hide."""
    from topex_core.cli import commands as cli_commands

    def broken(args) -> int:
        raise KeyError("an internal key")

    monkeypatch.setattr(cli_commands, "train", broken)
    status = main(["train", "--data", str(tiny_csv), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert status == 1
    assert "Traceback" in err and "KeyError: 'an internal key'" in err
    assert err.strip().splitlines()[-1].startswith("topex: this is a bug in TopEx")


def test_an_unreadable_template_file_is_a_user_error(tmp_path: Path, capsys) -> None:
    from conftest import make_run

    run = make_run(tmp_path / "run")
    status = main(["generate", "--run", str(run), "--cluster", "0",
                   "--template-file", str(tmp_path / "missing.txt")])
    err = capsys.readouterr().err
    assert status == 2 and one_line(err) and "--template-file" in err


def test_explore_prints_the_pick(tmp_path: Path, capsys) -> None:
    from conftest import make_run

    run = make_run(tmp_path / "run")
    assert main(["explore", "--run", str(run), "--min-samples", "10"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["error_clusters"] == 1 and "Cluster" in summary["reason"]
    assert summary["target_kind"] in ("cluster", "slice") and summary["target_key"]
    assert summary["target_reason"].startswith("Picked ")
    assert (run / "clusters.csv").is_file()


def test_describe_refuses_what_cannot_describe(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_code:  # argparse: not among the choices
        main(["describe", "--run", str(tmp_path), "--backend", "eda"])
    assert exit_code.value.code == 2 and "invalid choice: 'eda'" in capsys.readouterr().err
    assert main(["describe", "--run", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert one_line(err) and "not a TopEx run directory" in err


def test_explore_on_a_folder_that_is_not_a_run(tmp_path: Path, capsys) -> None:
    assert main(["explore", "--run", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert one_line(err) and "not a TopEx run directory" in err


def test_explore_with_data_trains_first(tiny_csv: Path, tmp_path: Path, capsys,
                                        monkeypatch, tiny_backbone: str) -> None:
    from topex_core import train_config

    monkeypatch.setattr(train_config, "default_backbone", lambda: tiny_backbone)
    status = main(["explore", "--run", str(tmp_path / "new"), "--data", str(tiny_csv)])
    assert status == 0 and (tmp_path / "new" / "run.json").is_file()
    assert json.loads(capsys.readouterr().out)["method"] == "optics"


def test_train_onto_another_datasets_run_exits_2_and_leaves_it(tiny_csv: Path,
                                                               tiny_backbone: str,
                                                               tmp_path: Path, capsys) -> None:
    common = ["--backbone", tiny_backbone, "--train-size", "30", "--epochs", "1",
              "--out", str(tmp_path / "run")]
    assert main(["train", "--data", str(tiny_csv), *common]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows"], summary["test_rows"], summary["held_out"]) == (48, 12, 0.2)
    assert summary["test_accuracy"] is not None
    before = (tmp_path / "run" / "run.json").read_bytes()
    other = tmp_path / "other" / "tiny.csv"
    other.parent.mkdir()
    other.write_text(tiny_csv.read_text().replace("refund", "money back"))
    status = main(["train", "--data", str(other), *common])
    captured = capsys.readouterr()
    assert status == 2 and one_line(captured.err)
    assert "holds a run of another dataset" in captured.err and str(tiny_csv) in captured.err
    assert (tmp_path / "run" / "run.json").read_bytes() == before


def test_test_file_and_test_size_are_exclusive(tiny_csv: Path, tmp_path: Path,
                                               capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", str(tiny_csv), "--test", str(tiny_csv), "--test-size", "0.1",
              "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2 and "not allowed with" in capsys.readouterr().err

"""Safe defaults of a deployment: the Streamlit config, the Dockerfile (linted with
hadolint), compose.yaml, secrets handling, optional sign-in, and no unsafe loading."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from streamlit.runtime.secrets import secrets_singleton
from streamlit.testing.v1 import AppTest

from topex_core.config import apply_secrets
from topex_core.training.classifier import ModelError, load_classifier

ROOT = Path(__file__).resolve().parents[1]


def test_streamlit_binds_locally_with_xsrf_and_an_upload_limit() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["server"]["enableXsrfProtection"] is True
    assert 1 <= config["server"]["maxUploadSize"] <= 1024
    assert config["browser"]["gatherUsageStats"] is False


def test_dockerfile_passes_hadolint_and_runs_as_a_numeric_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER [1-9]\d+$", dockerfile, re.MULTILINE)
    assert "HEALTHCHECK" in dockerfile and "/_stcore/health" in dockerfile
    assert dockerfile.index("COPY requirements.txt") < dockerfile.index("COPY topex_core")
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(ROOT / ".venv/bin"))
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install -r requirements-dev.txt)")
    result = subprocess.run([hadolint, "--no-color", str(ROOT / "Dockerfile")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_publishes_the_dashboard_locally_and_points_it_at_vllm() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    topex, vllm = compose["services"]["topex"], compose["services"]["vllm"]
    assert all(port.startswith("127.0.0.1:") for port in topex["ports"])
    assert "ports" not in vllm  # reached over the compose network only
    assert topex["environment"]["TOPEX_OPENAI_BASE_URL"] == "http://vllm:8000/v1"
    assert vllm["image"].startswith("vllm/vllm-openai")
    assert "${TOPEX_OPENAI_API_KEY" in topex["environment"]["TOPEX_OPENAI_API_KEY"]
    assert topex["profiles"] == vllm["profiles"] == ["gpu"]


def test_the_cpu_profile_serves_the_packaged_model_with_transformers_serve() -> None:
    from topex_core.augmenter.generation.packaged import CONVERTED_DIR

    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    dashboard, server = services["topex-cpu"], services["llm-cpu"]
    assert dashboard["profiles"] == server["profiles"] == ["cpu"]
    assert all(port.startswith("127.0.0.1:") for port in dashboard["ports"])
    assert "ports" not in server
    assert "transformers serve" in " ".join(server["command"])
    assert "topex_core.augmenter.generation.packaged" in " ".join(server["command"])
    environment = dashboard["environment"]
    assert environment["TOPEX_OPENAI_BASE_URL"] == "http://llm-cpu:8000/v1"
    # the served model's name is its directory under the image's TOPEX_HOME (/data/topex)
    assert environment["TOPEX_OPENAI_MODEL"] == f"/data/topex/cache/generators/{CONVERTED_DIR}"
    assert "TOPEX_HOME=/data/topex" in (ROOT / "Dockerfile").read_text()


def test_secret_files_are_ignored_and_examples_are_committed() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".streamlit/secrets.toml" in ignored and ".env" in ignored
    assert (ROOT / ".streamlit" / "secrets.toml.example").is_file()
    assert (ROOT / ".env.example").is_file()
    docker_ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".streamlit/secrets.toml" in docker_ignored and ".env" in docker_ignored


def test_secrets_fill_in_only_what_the_environment_leaves_unset(monkeypatch) -> None:
    monkeypatch.setenv("TOPEX_OPENAI_MODEL", "from-env")
    monkeypatch.delenv("TOPEX_OPENAI_API_KEY", raising=False)
    applied = apply_secrets({"TOPEX_OPENAI_MODEL": "from-secrets",
                             "TOPEX_OPENAI_API_KEY": "k", "UNRELATED": "x"})
    import os
    assert applied == ["TOPEX_OPENAI_API_KEY"] and os.environ["TOPEX_OPENAI_API_KEY"] == "k"
    assert os.environ["TOPEX_OPENAI_MODEL"] == "from-env" and "UNRELATED" not in os.environ


def test_required_sign_in_shows_only_the_sign_in_button(monkeypatch, tmp_path: Path) -> None:
    # Streamlit reads the [auth] section from a real secrets.toml (AppTest's injected
    # secrets are not consulted for sign-in), so the server starts in a folder with one.
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[auth]\nredirect_uri = "http://127.0.0.1:8501/oauth2callback"\ncookie_secret = "s"\n'
        'client_id = "c"\nclient_secret = "c"\n'
        'server_metadata_url = "https://id.example/.well-known/openid-configuration"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOPEX_REQUIRE_LOGIN", "1")
    secrets_singleton._reset()  # forget secrets loaded by earlier tests; again at the end
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    finally:
        secrets_singleton._reset()
    assert not at.exception
    assert [button.label for button in at.button] == ["Sign in"]
    assert not at.radio  # no page was run


def test_required_sign_in_without_auth_settings_says_what_is_missing(monkeypatch) -> None:
    monkeypatch.setenv("TOPEX_REQUIRE_LOGIN", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception and not at.button and not at.radio
    assert "[auth]" in at.error[0].value


def test_no_page_renders_raw_html_and_no_code_unpickles() -> None:
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]:
        assert "unsafe_allow_html" not in path.read_text(), path
    for path in (ROOT / "topex_core").rglob("*.py"):
        source = path.read_text()
        assert not re.search(r"\btorch\.load\(|\bpickle\.loads?\(|allow_pickle=True", source), path


def test_a_pickled_checkpoint_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04 pickled")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="model.safetensors"):
        load_classifier(tmp_path)

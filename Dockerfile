# TopEx dashboard. CPU (default) or GPU base chosen at build time:
#   docker build -t topex .
#   docker build -t topex-gpu --build-arg BASE=nvidia/cuda:12.4.1-runtime-ubuntu22.04 --build-arg GPU=1 .
# Not built on our development machines (no Docker engine there).
ARG BASE=python:3.11-slim
FROM ${BASE}

ARG GPU=0
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    TOPEX_HOME=/data/topex HF_HUB_OFFLINE=1

# The CUDA runtime base has no Python: take the distribution's, whose version the base image
# fixes (pinning apt versions would break whenever the archive moves on).
# hadolint ignore=DL3008
RUN if ! command -v python3 >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3 python3-pip python3-venv \
      && rm -rf /var/lib/apt/lists/*; fi \
 && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
COPY requirements.txt requirements-nodeps.txt requirements-gpu.txt ./
RUN if [ "$GPU" = "1" ]; then \
      pip install -r requirements.txt --extra-index-url https://download.pytorch.org/whl/cu124 \
      && pip install -r requirements-gpu.txt; \
    else pip install -r requirements.txt --extra-index-url https://download.pytorch.org/whl/cpu; fi \
 && pip install --no-deps -r requirements-nodeps.txt

COPY pyproject.toml README.md app.py ./
COPY .streamlit ./.streamlit
COPY pages ./pages
COPY topex_core ./topex_core
COPY topex_app ./topex_app
RUN pip install --no-deps . \
 && useradd --create-home --uid 10001 topex && mkdir -p /data/topex && chown -R topex /data
USER 10001

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python3", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status != 200)"]
# Inside a container the server must listen on all interfaces; publish the port to
# 127.0.0.1 only (docker run -p 127.0.0.1:8501:8501) unless sign-in is configured.
CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501"]

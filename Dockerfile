# The web app and API in a container: `docker build -t modeldistill .` then
# `docker run --rm -p 127.0.0.1:8000:8000 modeldistill` (or `docker compose up`).
# The image serves the exported model in models/default; mount another folder and set
# MODELDISTILL_MODEL to serve that instead. The image holds the core install only (serving needs
# no torch or transformers: see docs/architecture.md, "Install extras").
# BASE_IMAGE may be any Debian-like image with python3 and venv (scripts/image_check.sh builds one
# from Debian bookworm where no registry is reachable). The install goes into a venv at /opt/venv,
# so it works the same on python:3.11-slim and on Debian's python3 (PEP 668 forbids a bare
# `pip install` into Debian's system Python).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
# Only for machines whose egress re-signs TLS: the path of a CA bundle mounted at build time
# (`podman build -v BUNDLE:BUNDLE:ro --build-arg PIP_CERT=BUNDLE`); never copied into the image.
ARG PIP_CERT

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TOKENIZERS_PARALLELISM=false \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    MODELDISTILL_MODEL=/app/models/default \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN if [ -z "${PIP_CERT:-}" ]; then unset PIP_CERT; fi \
    && python3 -m venv /opt/venv \
    && pip install . \
    && python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is not None)"
COPY models/default ./models/default

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
USER app

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# 0.0.0.0 inside the container only; publish the port on the host's loopback or behind a proxy.
CMD ["modeldistill", "serve", "--host", "0.0.0.0", "--port", "8000"]

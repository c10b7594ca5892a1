# The web app and API in a container: `docker build -t modeldistill .` then
# `docker run --rm -p 127.0.0.1:8000:8000 modeldistill` (or `docker compose up`).
# The image serves the exported model in models/default; mount another folder and set
# MODELDISTILL_MODEL to serve that instead. The image holds the core install only (serving needs
# no torch or transformers: see docs/architecture.md, "Install extras").
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TOKENIZERS_PARALLELISM=false \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    MODELDISTILL_MODEL=/app/models/default

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . \
    && python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is not None)"
COPY models/default ./models/default

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
USER app

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# 0.0.0.0 inside the container only; publish the port on the host's loopback or behind a proxy.
CMD ["modeldistill", "serve", "--host", "0.0.0.0", "--port", "8000"]

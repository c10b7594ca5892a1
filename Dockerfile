# The web app and API in a container: `docker build -t modeldistill .` then
# `docker run --rm -p 127.0.0.1:8000:8000 modeldistill` (or `docker compose up`).
# The image serves the exported model in models/default; mount another folder and set
# MODELDISTILL_MODEL to serve that instead. Not exercised by CI (no Docker on those machines).
FROM python:3.11-slim

# The CPU build of torch: the default wheel on Linux brings gigabytes of CUDA libraries.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

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
RUN pip install --index-url "$TORCH_INDEX_URL" torch \
    && pip install . swagger-ui-bundle-v2
COPY models/default ./models/default

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
USER app

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# 0.0.0.0 inside the container only; publish the port on the host's loopback or behind a proxy.
CMD ["modeldistill", "serve", "--host", "0.0.0.0", "--port", "8000"]

# syntax=docker/dockerfile:1
# TorchServe 0.12.0 serving bengali_digit.mar and bengali_number.mar. Build from the repository root (see .dockerignore):
#   docker build -f docker/torchserve.Dockerfile -t bengali-digit-torchserve:1.0 .
#
# Base: python:3.11-slim plus Debian's Java 17 runtime, not pytorch/torchserve:0.12.0-cpu. That
# image is Ubuntu 20.04 with Python 3.9 and torch 2.4.0, while our handler, weights and tests run
# on Python 3.11 with torch 2.14.1 and numpy 2.4 (which needs Python >= 3.11); it also carries a
# full JDK and build-essential, and its entrypoint keeps the container alive with `tail -f` after
# TorchServe dies. Here every Python package comes from requirements.txt, so the image runs what
# `make test` ran, TorchServe is the container's main process, and the image is smaller.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS venv
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
COPY requirements.txt docker/torchserve-packages.txt /tmp/
# torch from PyTorch's CPU index first: PyPI's Linux wheel pulls in gigabytes of CUDA libraries.
# `-c requirements.txt` pins it (2.14.1 matches 2.14.1+cpu) and everything installed after it.
RUN pip install --index-url https://download.pytorch.org/whl/cpu -c /tmp/requirements.txt torch \
    && pip install -c /tmp/requirements.txt -r /tmp/torchserve-packages.txt

# The archive is built inside the image, from the committed weights, by the same code as `make archive`.
FROM venv AS archive
RUN pip install -c /tmp/requirements.txt torch-model-archiver
WORKDIR /src
COPY handler/ handler/
COPY bengali_digit/ bengali_digit/
COPY weights/bengali_digit.pt weights/
RUN python -m handler.archive --export-path /model-store

FROM ${PYTHON_IMAGE}
# tini as PID 1 with -g passes SIGTERM to TorchServe's launcher and its Java frontend together,
# so `docker stop` and pod deletion shut TorchServe down cleanly. man1 must exist for the JRE's
# post-install script on slim images.
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 --user-group model-server \
    && install -d -o model-server -g model-server /home/model-server/tmp /home/model-server/logs
COPY --from=venv /opt/venv /opt/venv
# Code, config and model are root-owned and read-only to TorchServe; it writes only logs/ and tmp/
# (where it unpacks the archive).
COPY docker/config.properties metrics.yaml /home/model-server/
COPY --from=archive /model-store/bengali_digit.mar /model-store/bengali_number.mar /home/model-server/model-store/
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 TEMP=/home/model-server/tmp \
    LOG_LOCATION=/home/model-server/logs METRICS_LOCATION=/home/model-server/logs
USER 1000:1000
WORKDIR /home/model-server
# 8080 inference, 8081 management, 8082 metrics: none is published by compose or the manifests.
EXPOSE 8080 8081 8082
# /ping answers 200 only while the model has a healthy worker; no curl in slim images, so Python.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/ping', timeout=4)"]
ENTRYPOINT ["tini", "-g", "--"]
CMD ["torchserve", "--start", "--foreground", "--ncs", \
     "--ts-config", "/home/model-server/config.properties", \
     "--model-store", "/home/model-server/model-store"]

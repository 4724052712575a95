# syntax=docker/dockerfile:1
# The gateway (Flask under gunicorn): the drawing page and /api/predict in front of TorchServe.
# Build from the repository root (see .dockerignore):
#   docker build -f docker/gateway.Dockerfile -t bengali-digit-gateway:1.0 .
# No torch and no numpy here: the gateway reads images' headers (bengali_digit.limits, payload) and
# forwards them to TorchServe; it never loads the model.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS venv
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
COPY requirements.txt docker/gateway-packages.txt /tmp/
# Names from gateway-packages.txt, versions from requirements.txt: the tests' versions.
RUN pip install -c /tmp/requirements.txt -r /tmp/gateway-packages.txt

FROM ${PYTHON_IMAGE}
RUN useradd --no-create-home --uid 1000 --user-group gateway
COPY --from=venv /opt/venv /opt/venv
WORKDIR /app
COPY bengali_digit/ bengali_digit/
COPY gateway/ gateway/
COPY feedback/ feedback/
# Corrections: a SQLite file and its salt in /app/data (mount a volume there to keep them) unless
# BDR_DATABASE_URL names a PostgreSQL server; give several replicas one BDR_FEEDBACK_SALT.
RUN mkdir /app/data && chown 1000:1000 /app/data
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 BDR_TORCHSERVE_URL=http://torchserve:8080
USER 1000:1000
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# gunicorn as PID 1 handles SIGTERM itself (graceful worker shutdown). gunicorn.conf.py leaves the
# address to the command line: 0.0.0.0 here, since the container's port is reached from outside.
CMD ["gunicorn", "-c", "gateway/gunicorn.conf.py", "--bind", "0.0.0.0:8000", "gateway:create_app()"]

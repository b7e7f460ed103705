# syntax=docker/dockerfile:1
# One image runs every peakshop process: `serve` (default), `worker`, `scaler run`,
# `db upgrade`, and Locust for load tests (`locust -f /app/loadtests/locustfile.py`).
# Build: docker build -t ghcr.io/peakshop/peakshop:0.1.0 .

# Both stages share the exact interpreter, so the virtualenv built in the first runs in the second.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shop ./shop
COPY scaler ./scaler
COPY loadtests ./loadtests
# Build a wheel first so the installed tree holds no source checkout, then install it with its
# dependencies (all of them ship manylinux wheels, so no compiler is needed even here).
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && pip install /wheels/*.whl \
    && python -m compileall -q /opt/venv/lib

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="peakshop" \
      org.opencontainers.image.description="Commerce-as-a-Service backend: storefront, order worker, scaler" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/peakshop/peakshop"
# HOME and MPLCONFIGDIR point into /tmp: the root filesystem is read-only in Kubernetes and
# /tmp is an emptyDir there. The instance folder is an emptyDir too (see k8s/base/web.yaml).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    PEAKSHOP_BIND=0.0.0.0:8000 \
    PEAKSHOP_INSTANCE_PATH=/var/lib/peakshop
RUN groupadd --system --gid 10001 peakshop \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin peakshop \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/peakshop /var/run/peakshop/metrics
COPY --from=builder /opt/venv /opt/venv
# gunicorn reads ./gunicorn.conf.py from its working directory; Locust's file is run by path.
WORKDIR /app
COPY gunicorn.conf.py ./
COPY loadtests ./loadtests
# Numeric, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["peakshop"]
CMD ["serve"]

# syntax=docker/dockerfile:1
# One image per role, each with only what that role imports:
#   web       (default) `serve`, `worker`, `db upgrade`            docker build --target web .
#   scaler    `scaler run` (adds the Kubernetes client)             docker build --target scaler .
#   loadtest  Locust and rehearsal reports                          docker build --target loadtest .
#   backup    `backup`, `restore`, `drill` (boto3, PostgreSQL 15)  docker build --target backup .
#   all       every command, as on a developer's machine            docker build --target all .
# Every dependency comes from the hash-pinned lock of its role (requirements/requirements-<role>.txt).

# Both stages share the exact interpreter, so the virtualenv built in the first runs in the second.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements ./requirements
COPY pyproject.toml README.md ./
COPY shop ./shop
COPY scaler ./scaler
COPY loadtests ./loadtests
COPY common ./common
COPY peakshop ./peakshop
# The project as a wheel (so the installed tree holds no source checkout); its dependencies
# come from the lock, never from the ranges in pyproject.toml.
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM builder AS venv-web
RUN pip install --require-hashes --no-deps -r requirements/requirements-web.txt \
    && pip install --no-deps /wheels/*.whl && python -m compileall -q /opt/venv/lib

FROM builder AS venv-scaler
RUN pip install --require-hashes --no-deps -r requirements/requirements-scaler.txt \
    && pip install --no-deps /wheels/*.whl && python -m compileall -q /opt/venv/lib

FROM builder AS venv-loadtest
RUN pip install --require-hashes --no-deps -r requirements/requirements-loadtest.txt \
    && pip install --no-deps /wheels/*.whl && python -m compileall -q /opt/venv/lib

FROM builder AS venv-backup
RUN pip install --require-hashes --no-deps -r requirements/requirements-backup.txt \
    && pip install --no-deps /wheels/*.whl && python -m compileall -q /opt/venv/lib

FROM builder AS venv-all
RUN pip install --require-hashes --no-deps -r requirements/requirements-all.txt \
    && pip install --no-deps /wheels/*.whl && python -m compileall -q /opt/venv/lib

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
# gunicorn reads ./gunicorn.conf.py from its working directory; Locust's file is run by path.
WORKDIR /app
COPY gunicorn.conf.py ./
COPY loadtests ./loadtests
# Numeric, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["peakshop"]
CMD ["serve"]

FROM runtime AS scaler
COPY --from=venv-scaler /opt/venv /opt/venv

FROM runtime AS loadtest
COPY --from=venv-loadtest /opt/venv /opt/venv

FROM runtime AS backup
# pg_basebackup and pg_receivewal take the backups; the drill starts a scratch server
# (postgres) from them. Debian's PostgreSQL 15, as the database runs it.
USER 0:0
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=venv-backup /opt/venv /opt/venv
USER 10001:10001

FROM runtime AS all
COPY --from=venv-all /opt/venv /opt/venv

# Last, so a plain `docker build .` makes the storefront and worker image.
FROM runtime AS web
COPY --from=venv-web /opt/venv /opt/venv

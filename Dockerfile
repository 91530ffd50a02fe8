# ARKA Engine image: one image, two targets (the deployment guide's arka-engine/core and
# arka-engine/rtvm). Non-root; runs with a read-only root filesystem as long as /tmp is
# writable (an emptyDir in Kubernetes, a tmpfs in docker-compose).
#
#   docker build --target core -t arka-engine/core:1.0.0 .
#   docker build --target rtvm -t arka-engine/rtvm:1.0.0 .

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/arka
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/arka/bin/pip install --upgrade pip && /opt/arka/bin/pip install .

FROM python:3.11-slim-bookworm AS runtime
# postgresql-client: pg_dump/pg_restore for `arka-cli backup` and `restore`
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 arka \
    && useradd --system --uid 10001 --gid arka --home-dir /var/lib/arka --shell /usr/sbin/nologin arka \
    && mkdir -p /var/lib/arka /etc/arka \
    && chown arka:arka /var/lib/arka
COPY --from=build /opt/arka /opt/arka
COPY config /etc/arka
ENV PATH=/opt/arka/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ARKA_DATA_DIR=/var/lib/arka \
    TMPDIR=/tmp
USER 10001:10001
WORKDIR /var/lib/arka
ENTRYPOINT ["arka-cli"]

FROM runtime AS rtvm
EXPOSE 8081
CMD ["rtvm", "serve", "--host", "0.0.0.0", "--port", "8081"]

FROM runtime AS core
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD ["arka-cli", "health", "--url", "http://127.0.0.1:8080"]
CMD ["serve", "--config", "/etc/arka/production.yaml"]

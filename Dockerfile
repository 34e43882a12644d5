# Tropa: one container runs `tropa run`. Data lives in the /data volume; the keyring comes from a
# secret file (TROPA_KEY_FILE) so it is never baked into the image or stored beside the data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tropa \
    && mkdir -p /data \
    && chown tropa:tropa /data \
    && chmod 0700 /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY services ./services
COPY storage ./storage
COPY migrations ./migrations
RUN pip install .

USER tropa
ENV TROPA_DATA_DIR=/data \
    TROPA_KEY_FILE=/run/secrets/tropa_keyring \
    TROPA_LOG_FORMAT=json
VOLUME ["/data"]

ENTRYPOINT ["tropa"]
CMD ["run"]

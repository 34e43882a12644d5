# Tropa: one container runs `tropa run`. Data lives in the /data volume. The keyring lives in the /keys
# volume, which every bot of a deployment shares and rewrites at each key roll (docs/decisions/0009); it
# is locked with a passphrase that comes from a file on a tmpfs (TROPA_KEY_PASSPHRASE_FILE, see
# deploy/unlock) or is typed at the terminal (`docker run -it`). Without either, `tropa run` refuses.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tropa \
    && mkdir -p /data /keys \
    && chown tropa:tropa /data /keys \
    && chmod 0700 /data /keys

WORKDIR /app
# Dependencies first, from the hash-pinned lock only (a layer of its own, rebuilt when the lock changes):
# an image built in a hurry after a seizure gets exactly what the tests ran against.
COPY requirements/runtime.txt ./requirements/runtime.txt
RUN pip install --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY services ./services
COPY storage ./storage
COPY views ./views
COPY migrations ./migrations
# Tropa itself adds nothing (--no-deps) and builds with the pinned setuptools; then a smoke test.
RUN pip install --no-deps --no-build-isolation . && pip check && tropa --help >/dev/null

USER tropa
ENV TROPA_DATA_DIR=/data \
    TROPA_KEY_FILE=/keys/keyring.json \
    TROPA_KEY_PASSPHRASE_FILE=/run/secrets/tropa_passphrase \
    TROPA_LOG_FORMAT=json
VOLUME ["/data", "/keys"]

ENTRYPOINT ["tropa"]
CMD ["run"]

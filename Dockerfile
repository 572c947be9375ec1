# syntax=docker/dockerfile:1
# Frontdesk's image: `frontdesk` is the entry point, `serve` the default command.
#   docker build -t frontdesk .
#   docker run -p 3000:3000 -e FRONTDESK_WEBHOOK_SECRET=change-me frontdesk
# runs the sandbox on SQLite with the example config. Production: deploy/README.md.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: install the package and its runtime dependencies into a virtualenv ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/frontdesk
WORKDIR /src
# The dependencies first, from pyproject.toml alone: this layer stays cached while only
# the code changes.
COPY pyproject.toml README.md ./
RUN mkdir bot handlers integrations storage \
    && /opt/frontdesk/bin/pip install . \
    && /opt/frontdesk/bin/pip uninstall --yes frontdesk
COPY bot ./bot
COPY handlers ./handlers
COPY integrations ./integrations
COPY storage ./storage
# Not editable, no test extras; bytecode compiled now so no start pays for it.
RUN /opt/frontdesk/bin/pip install --no-deps . \
    && /opt/frontdesk/bin/python -m compileall -q /opt/frontdesk/lib

# --- runtime: the virtualenv, the example config and an unprivileged user ---------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/frontdesk/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FRONTDESK_CONFIG=/etc/frontdesk/frontdesk.toml
RUN groupadd --system --gid 10001 frontdesk \
    && useradd --system --uid 10001 --gid frontdesk --home-dir /var/lib/frontdesk \
        --create-home --shell /usr/sbin/nologin frontdesk
COPY --from=build /opt/frontdesk /opt/frontdesk
# Replace it by mounting your own at the same path (or point FRONTDESK_CONFIG elsewhere).
COPY examples/frontdesk.toml /etc/frontdesk/frontdesk.toml
# The default DATABASE_URL (SQLite, ./var/frontdesk.db) lands here: mount a volume on it.
WORKDIR /var/lib/frontdesk
USER 10001:10001
EXPOSE 3000
# Secrets come from the environment, from NAME_FILE variables, or from files named after
# the variables in FRONTDESK_SECRETS_DIR (e.g. Docker secrets in /run/secrets).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:3000/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["frontdesk"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3000"]

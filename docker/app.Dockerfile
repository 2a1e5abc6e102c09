# The API, the outbox worker, the migrate step and the local Stripe/SMTP stand-ins: one image, one
# command each (docker/compose.yaml). Build context: the repository root.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AUTODOC_DATA_DIR=/var/lib/autodoc

WORKDIR /app
# An editable install: api/devtools/migrate.py finds db/ beside api/ (PROJECT_ROOT), so the code stays in /app.
# Dependencies first, against a stub package, so that a code change does not reinstall them.
COPY pyproject.toml ./
RUN mkdir api && touch api/__init__.py && pip install -e . \
 && useradd --system --uid 10001 --home-dir /var/lib/autodoc --create-home autodoc \
 && mkdir -p /mail && chown autodoc:autodoc /mail
COPY api ./api
COPY db ./db
COPY docker/migrate.py ./docker/migrate.py

USER autodoc
EXPOSE 8000 8420 8025
CMD ["autodoc", "serve", "--host", "0.0.0.0"]

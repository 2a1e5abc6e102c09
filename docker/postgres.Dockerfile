# PostgreSQL 15 with pg_cron and pgTAP, set up like the embedded cluster of `make run`
# (api/cluster.py). Build context: the repository root (docker/compose.yaml sets it).
FROM postgres:15-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15-cron postgresql-15-pgtap \
 && rm -rf /var/lib/apt/lists/*

# First start on an empty volume: roles (db/bootstrap.sql), passwords, the autodoc database owned by
# autodoc_owner, extensions. Superuser work only; migrations run later as the owner (docker/migrate.py).
COPY db/bootstrap.sql /opt/autodoc/bootstrap.sql
COPY docker/initdb.sh /docker-entrypoint-initdb.d/10-autodoc.sh
RUN chmod 0755 /docker-entrypoint-initdb.d/10-autodoc.sh

# Server settings as arguments, so they hold for the entrypoint's temporary init server (pg_cron must
# be preloaded for CREATE EXTENSION) and for a data volume made by an older image alike.
# pg_cron 1.4: the extension lives only in cron.database_name; background workers run jobs without
# libpq self-connections (no pg_hba or password for them).
CMD ["postgres", \
     "-c", "shared_preload_libraries=pg_cron", \
     "-c", "cron.database_name=autodoc", \
     "-c", "cron.use_background_workers=on", \
     "-c", "max_worker_processes=32", \
     "-c", "timezone=UTC", \
     "-c", "log_timezone=UTC"]

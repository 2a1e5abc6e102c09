# The README's commands. Each installs what it needs first (scripts/install.sh).
.PHONY: install run test lint bench schema docs clean
VENV := .venv/bin

install:
	@bash scripts/install.sh

run: install  ## the whole system locally: database, Stripe, SMTP, API, worker, pg_cron
	@$(VENV)/autodoc dev

test: install  ## every test on a throwaway cluster, plus lint and type checks
	@$(VENV)/autodoc test

lint: install
	@$(VENV)/autodoc lint

bench: install  ## benchmarks; figures go to bench/results.json
	@$(VENV)/autodoc bench

schema: install  ## regenerate db/schema/schema.sql from the migrations
	@$(VENV)/autodoc db dump-schema

docs: install  ## regenerate docs/sql-api.md from the COMMENT ON of every api function
	@$(VENV)/autodoc db docs

clean:
	-@$(VENV)/autodoc db stop
	rm -rf .data

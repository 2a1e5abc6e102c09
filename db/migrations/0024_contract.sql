-- depends: 0023_leave_shift_check
-- Issue 8 (a typed contract, one error vocabulary, strict input): no table changes. The functions
-- this version adds live in idempotent files — app_private.require_on_grid
-- (db/functions/10_slot_grid_check.sql: starts off the slot grid are 422 off_grid) and
-- api.mechanic_day_start (db/functions/22_time_off_days.sql: time off in whole local days) — and
-- this migration marks the version, so that its rollback removes them.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

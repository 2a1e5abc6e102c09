-- Every outbox row names a registered kind, without the foreign key's lock (migration 0031): the
-- outbox trigger checks a row's kind when it is written; a kind that rows still name is neither
-- deleted, renamed nor truncated away (23503, as the key raised). Each check is also shown failing
-- with its trigger disabled, so each trigger is what holds its half.
BEGIN;
SELECT plan(17);

SELECT is_empty($$SELECT FROM pg_constraint WHERE conname = 'outbox_kind_registered'$$,
  'no foreign key from the outbox to the registry: its FOR KEY SHARE made a MultiXact per booking under load');

INSERT INTO app.outbox_kinds (kind, band, domain) VALUES ('test.kept', 30, 'outbox'), ('test.spare', 30, 'outbox');
SELECT app_private.outbox_enqueue('test.kept', 'kindkey:kept', '{}') AS kept \gset
SELECT app_private.outbox_enqueue('noop', 'kindkey:noop', '{}') AS n \gset

-- Writing a row: the kind must be registered.
SELECT throws_ok($$SELECT app_private.outbox_enqueue('test.nowhere', 'kindkey:bogus', '{}')$$, '23503',
  'insert or update on table "outbox" violates foreign key constraint "outbox_kind_registered"',
  'an unregistered kind is refused on INSERT, with the key''s SQLSTATE and message');
SELECT throws_ok(format($$UPDATE app.outbox SET kind = 'test.nowhere' WHERE id = %s$$, :n), '23503', NULL,
  'and on an UPDATE of the kind');
SELECT lives_ok(format($$UPDATE app.outbox SET kind = 'test.spare' WHERE id = %s$$, :n),
  'an UPDATE to another registered kind passes');
SELECT lives_ok(format($$UPDATE app.outbox SET kind = 'noop', attempts = 0 WHERE id = %s$$, :n),
  'and back');

-- The registry: a kind rows name stays; one nobody names may go.
SELECT throws_ok($$DELETE FROM app.outbox_kinds WHERE kind = 'test.kept'$$, '23503',
  'update or delete on table "outbox_kinds" violates foreign key constraint "outbox_kind_registered" on table "outbox"',
  'a kind that rows name cannot be deleted');
SELECT throws_ok($$UPDATE app.outbox_kinds SET kind = 'test.renamed' WHERE kind = 'test.kept'$$, '23503', NULL,
  'nor renamed');
SELECT throws_ok($$TRUNCATE app.outbox_kinds CASCADE$$, '23503', NULL,
  'nor truncated away while the outbox has rows');
SELECT lives_ok($$UPDATE app.outbox_kinds SET description = 'kept' WHERE kind = 'test.kept'$$,
  'its other columns may change');
SELECT lives_ok($$UPDATE app.outbox_kinds SET kind = 'test.spare_renamed' WHERE kind = 'test.spare'$$,
  'a kind nobody names may be renamed');
SELECT lives_ok($$DELETE FROM app.outbox_kinds WHERE kind = 'test.spare_renamed'$$, 'and deleted');
SELECT lives_ok(format($$DELETE FROM app.outbox WHERE id = %s; DELETE FROM app.outbox_kinds WHERE kind = 'test.kept'$$, :kept),
  'a kind is deletable once no row names it');

-- Without its trigger each guarantee is gone (so the triggers, not something else, hold them).
SAVEPOINT off;
ALTER TABLE app.outbox DISABLE TRIGGER outbox_05_kind_registered;
SELECT lives_ok($$SELECT app_private.outbox_enqueue('test.nowhere', 'kindkey:orphan', '{}')$$,
  'without outbox_05_kind_registered an unregistered kind would be stored');
ROLLBACK TO SAVEPOINT off;
INSERT INTO app.outbox_kinds (kind, band, domain) VALUES ('test.kept', 30, 'outbox');
SELECT app_private.outbox_enqueue('test.kept', 'kindkey:kept2', '{}');
ALTER TABLE app.outbox_kinds DISABLE TRIGGER outbox_kinds_15_keep_referenced;
SELECT lives_ok($$DELETE FROM app.outbox_kinds WHERE kind = 'test.kept'$$,
  'without outbox_kinds_15_keep_referenced a kind rows name would be deleted');
ALTER TABLE app.outbox_kinds DISABLE TRIGGER outbox_kinds_15_no_truncate_referenced;
SELECT lives_ok($$TRUNCATE app.outbox_kinds CASCADE$$,
  'without outbox_kinds_15_no_truncate_referenced the registry would be truncated under its rows');
ROLLBACK TO SAVEPOINT off;
SELECT is((SELECT count(*)::int FROM app.outbox_kinds WHERE kind = 'noop'), 1, 'the registry is back');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE kind = 'test.nowhere'), 0, 'and no orphan row is left');

SELECT * FROM finish();
ROLLBACK;

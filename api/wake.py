"""The wake-up NOTIFY, shared by the API and the worker (no imports: the worker starts fast)."""

# The wake-up after a writing request: the worker (its outbox rows) and the live-event relays (their
# events). Sent in a statement of its own AFTER the request's transaction committed, never inside
# it: in PostgreSQL a committing transaction that issued NOTIFY holds a cluster-wide lock until its
# commit record is flushed, so notifying commits serialise and lose group commit (issue 13). This
# statement writes nothing, so its own commit waits for no flush. A lost wake-up costs at most a poll
# interval (both listeners poll); see docs/events.md and docs/side-effects.md.
WAKE_SQL = ("SELECT pg_notify('autodoc_outbox_v1', '{\"op\": \"wake\"}'), "
            "pg_notify('autodoc_events_v1', 'wake')")

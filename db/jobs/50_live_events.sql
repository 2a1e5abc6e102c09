-- Live events are kept one hour (the Last-Event-ID replay window), then deleted.
SELECT cron.schedule('autodoc-purge-live-events', '*/10 * * * *', $$SELECT api.purge_live_events()$$);

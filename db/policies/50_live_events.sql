-- Live events: people read the events addressed to them (replay after a reconnect); the worker role
-- (the API's relay) reads all to fan them out; admins read all. Nobody writes directly: events are
-- written by app_private.emit_live_event (definer) in the transaction of the change.
REVOKE ALL ON app.live_events FROM autodoc_anon;
GRANT SELECT ON app.live_events TO autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

DROP POLICY IF EXISTS "people read the live events addressed to them" ON app.live_events;
CREATE POLICY "people read the live events addressed to them" ON app.live_events FOR SELECT
  TO autodoc_customer, autodoc_mechanic
  USING (audience @> ARRAY[(SELECT app_private.current_user_id())]);

DROP POLICY IF EXISTS "the relay and admins read every live event" ON app.live_events;
CREATE POLICY "the relay and admins read every live event" ON app.live_events FOR SELECT
  TO autodoc_worker, autodoc_admin USING (true);

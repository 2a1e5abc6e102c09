-- Outbox domain: the queue, its kind registry and worker heartbeats. Enqueueing happens through
-- SECURITY DEFINER functions; the worker works the outbox as itself, so it gets table rights plus a
-- policy. Nobody but the owner writes the registry (each domain's file registers its kinds).

-- Outbox: the worker claims, completes and fails rows; admins read dead letters, retry and purge.
GRANT SELECT, UPDATE ON app.outbox TO autodoc_worker;
GRANT SELECT, UPDATE, DELETE ON app.outbox TO autodoc_admin;
DROP POLICY IF EXISTS "the worker works every outbox row" ON app.outbox;
CREATE POLICY "the worker works every outbox row" ON app.outbox FOR ALL TO autodoc_worker
  USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS "admins manage every outbox row" ON app.outbox;
CREATE POLICY "admins manage every outbox row" ON app.outbox FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

-- Worker heartbeats: each worker process writes its own row; admins read them.
GRANT SELECT, INSERT, UPDATE ON app.worker_heartbeats TO autodoc_worker;
GRANT SELECT ON app.worker_heartbeats TO autodoc_admin;
DROP POLICY IF EXISTS "workers record their heartbeats" ON app.worker_heartbeats;
CREATE POLICY "workers record their heartbeats" ON app.worker_heartbeats FOR ALL TO autodoc_worker
  USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS "admins see worker heartbeats" ON app.worker_heartbeats;
CREATE POLICY "admins see worker heartbeats" ON app.worker_heartbeats FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));

-- The kind registry: the worker reads retry policy and lanes; admins read it. Owner writes.
GRANT SELECT ON app.outbox_kinds TO autodoc_worker, autodoc_admin;
DROP POLICY IF EXISTS "the worker reads the outbox kinds" ON app.outbox_kinds;
CREATE POLICY "the worker reads the outbox kinds" ON app.outbox_kinds FOR SELECT TO autodoc_worker USING (true);
DROP POLICY IF EXISTS "admins read the outbox kinds" ON app.outbox_kinds;
CREATE POLICY "admins read the outbox kinds" ON app.outbox_kinds FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));

-- Lanes (concurrency budgets): the worker reads them; admins read them. Owner writes.
GRANT SELECT ON app.outbox_lanes TO autodoc_worker, autodoc_admin;
DROP POLICY IF EXISTS "the worker reads the outbox lanes" ON app.outbox_lanes;
CREATE POLICY "the worker reads the outbox lanes" ON app.outbox_lanes FOR SELECT TO autodoc_worker USING (true);
DROP POLICY IF EXISTS "admins read the outbox lanes" ON app.outbox_lanes;
CREATE POLICY "admins read the outbox lanes" ON app.outbox_lanes FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));

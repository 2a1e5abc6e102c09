-- Side effects: outbox, worker heartbeats, payments, refunds, Stripe events, invites, reminders.
-- Writes happen through SECURITY DEFINER functions (enqueue, payments, webhooks); the worker works the
-- outbox as itself, so it gets table rights plus a policy; customers only ever read their own money.

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

-- Payments and refunds: customers see their own; admins see all. Nobody writes them directly.
GRANT SELECT ON app.scheduled_payments TO autodoc_customer, autodoc_admin;
DROP POLICY IF EXISTS "customers see their own payments" ON app.scheduled_payments;
CREATE POLICY "customers see their own payments" ON app.scheduled_payments FOR SELECT TO autodoc_customer
  USING (customer_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "admins see every payment" ON app.scheduled_payments;
CREATE POLICY "admins see every payment" ON app.scheduled_payments FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));

GRANT SELECT ON app.payment_refunds TO autodoc_customer, autodoc_admin;
DROP POLICY IF EXISTS "customers see refunds of their own payments" ON app.payment_refunds;
CREATE POLICY "customers see refunds of their own payments" ON app.payment_refunds FOR SELECT TO autodoc_customer
  USING (EXISTS (SELECT 1 FROM app.scheduled_payments p
                  WHERE p.id = payment_id AND p.customer_id = (SELECT app_private.current_user_id())));
DROP POLICY IF EXISTS "admins see every refund" ON app.payment_refunds;
CREATE POLICY "admins see every refund" ON app.payment_refunds FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));

-- Stripe events: an operational log for admins.
GRANT SELECT ON app.stripe_events TO autodoc_admin;
DROP POLICY IF EXISTS "admins see stripe events" ON app.stripe_events;
CREATE POLICY "admins see stripe events" ON app.stripe_events FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));

-- Invites and reminders: visible to whoever can see the session (the sessions policies decide).
GRANT SELECT ON app.session_invites, app.session_reminders TO autodoc_customer, autodoc_mechanic, autodoc_admin;
DROP POLICY IF EXISTS "people see invites of sessions they can see" ON app.session_invites;
CREATE POLICY "people see invites of sessions they can see" ON app.session_invites FOR SELECT
  TO autodoc_customer, autodoc_mechanic, autodoc_admin
  USING (EXISTS (SELECT 1 FROM app.sessions s WHERE s.id = session_id));
DROP POLICY IF EXISTS "people see reminders of sessions they can see" ON app.session_reminders;
CREATE POLICY "people see reminders of sessions they can see" ON app.session_reminders FOR SELECT
  TO autodoc_customer, autodoc_mechanic, autodoc_admin
  USING (EXISTS (SELECT 1 FROM app.sessions s WHERE s.id = session_id));

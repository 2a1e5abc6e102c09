-- Money domain: payments, refunds and Stripe events. Writes happen through SECURITY DEFINER
-- functions (payments, webhooks); customers only ever read their own money.

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

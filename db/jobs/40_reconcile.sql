-- Reconcile the ledger, the payment records and Stripe's reports once a day (04:23 GMT); admins
-- are emailed when anything disagrees (once per day: the outbox key carries the date).
SELECT cron.schedule('autodoc-reconcile-payments', '23 4 * * *', $$SELECT api.reconcile_payments_daily()$$);

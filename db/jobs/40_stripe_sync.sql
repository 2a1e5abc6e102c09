-- Ask Stripe about payments and refunds still pending 15 minutes after their last change (a lost
-- webhook), every 5 minutes. api.stripe_sync_pending() enqueues at most one lookup per payment per
-- 15 minutes and is safe to run twice (also at once).
SELECT cron.schedule('autodoc-stripe-sync', '*/5 * * * *', $$SELECT api.stripe_sync_pending()$$);

-- Money: the policy tables (public terms), cancellations and the ledger. Nobody writes the ledger
-- directly: every money event is posted by SECURITY DEFINER functions and triggers
-- (db/functions/40_*.sql). Customers read their own credit and card accounts, mechanics their
-- payable account, admins everything.

-- The money policy: readable by every signed-in role; admins (and the owner) publish new versions
-- (the guard trigger refuses changes to a version in force).
GRANT SELECT ON app.money_policy_versions, app.cancellation_policies TO autodoc_customer, autodoc_mechanic, autodoc_admin;
GRANT INSERT, UPDATE, DELETE ON app.money_policy_versions, app.cancellation_policies TO autodoc_admin;
DROP POLICY IF EXISTS "signed-in users read the money policy versions" ON app.money_policy_versions;
CREATE POLICY "signed-in users read the money policy versions" ON app.money_policy_versions FOR SELECT
  TO autodoc_customer, autodoc_mechanic, autodoc_admin USING (true);
DROP POLICY IF EXISTS "admins publish money policy versions" ON app.money_policy_versions;
CREATE POLICY "admins publish money policy versions" ON app.money_policy_versions FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));
DROP POLICY IF EXISTS "signed-in users read the cancellation tiers" ON app.cancellation_policies;
CREATE POLICY "signed-in users read the cancellation tiers" ON app.cancellation_policies FOR SELECT
  TO autodoc_customer, autodoc_mechanic, autodoc_admin USING (true);
DROP POLICY IF EXISTS "admins publish cancellation tiers" ON app.cancellation_policies;
CREATE POLICY "admins publish cancellation tiers" ON app.cancellation_policies FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

-- Cancellation receipts: whoever can see the session (the sessions policies decide: its customer,
-- its mechanic, admins).
GRANT SELECT ON app.session_cancellations TO autodoc_customer, autodoc_mechanic, autodoc_admin;
DROP POLICY IF EXISTS "people see cancellations of sessions they can see" ON app.session_cancellations;
CREATE POLICY "people see cancellations of sessions they can see" ON app.session_cancellations FOR SELECT
  TO autodoc_customer, autodoc_mechanic, autodoc_admin
  USING (EXISTS (SELECT 1 FROM app.sessions s WHERE s.id = session_id));

-- Ledger accounts: customers their credit and card accounts, mechanics their payable account.
GRANT SELECT ON app.ledger_accounts, app.ledger_transactions, app.ledger_entries
  TO autodoc_customer, autodoc_mechanic, autodoc_admin;
DROP POLICY IF EXISTS "customers see their own credit and card accounts" ON app.ledger_accounts;
CREATE POLICY "customers see their own credit and card accounts" ON app.ledger_accounts FOR SELECT TO autodoc_customer
  USING (owner_id = (SELECT app_private.current_user_id()) AND kind IN ('customer_credit', 'customer_card'));
DROP POLICY IF EXISTS "mechanics see their own payable account" ON app.ledger_accounts;
CREATE POLICY "mechanics see their own payable account" ON app.ledger_accounts FOR SELECT TO autodoc_mechanic
  USING (owner_id = (SELECT app_private.current_user_id()) AND kind = 'mechanic_payable');
DROP POLICY IF EXISTS "admins see every ledger account" ON app.ledger_accounts;
CREATE POLICY "admins see every ledger account" ON app.ledger_accounts FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));

-- Entries: those of the accounts the caller may see (an uncorrelated subquery: planned once).
DROP POLICY IF EXISTS "people see entries of their own accounts" ON app.ledger_entries;
CREATE POLICY "people see entries of their own accounts" ON app.ledger_entries FOR SELECT
  TO autodoc_customer, autodoc_mechanic
  USING (account_id IN (SELECT a.id FROM app.ledger_accounts a));
DROP POLICY IF EXISTS "admins see every ledger entry" ON app.ledger_entries;
CREATE POLICY "admins see every ledger entry" ON app.ledger_entries FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));

-- Transactions: those with an entry the caller may see.
DROP POLICY IF EXISTS "people see transactions touching their own accounts" ON app.ledger_transactions;
CREATE POLICY "people see transactions touching their own accounts" ON app.ledger_transactions FOR SELECT
  TO autodoc_customer, autodoc_mechanic
  USING (EXISTS (SELECT 1 FROM app.ledger_entries e WHERE e.transaction_id = ledger_transactions.id));
DROP POLICY IF EXISTS "admins see every ledger transaction" ON app.ledger_transactions;
CREATE POLICY "admins see every ledger transaction" ON app.ledger_transactions FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));

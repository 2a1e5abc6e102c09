-- The money rules as data (app.money_policy_versions + app.cancellation_policies): which version is
-- in force, what a session was booked under, its deposit and commission, and the check that a
-- version is complete (every lead time of every mode falls in exactly one tier, and the no-show,
-- missing-waiver and unmatched tiers exist). docs/money.md says how to publish a new version.

-- money_policy_version_at(at): the version in force at an instant (latest effective_from <= at).
-- Raises 500 no_money_policy when none is (a database without its seed rows). Definer helper.
CREATE OR REPLACE FUNCTION app_private.money_policy_version_at(p_at timestamptz) RETURNS integer
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_version integer;
BEGIN
  SELECT v.version INTO v_version FROM app.money_policy_versions v
   WHERE v.effective_from <= p_at ORDER BY v.effective_from DESC LIMIT 1;
  IF v_version IS NULL THEN
    PERFORM app_private.raise_error(500, 'no_money_policy', 'No money policy is in force',
                                    jsonb_build_object('at', p_at));
  END IF;
  RETURN v_version;
END
$$;

-- session_money_policy(session): the policy version row a session was booked under. Definer helper.
CREATE OR REPLACE FUNCTION app_private.session_money_policy(p_session_id uuid) RETURNS app.money_policy_versions
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v app.money_policy_versions;
BEGIN
  SELECT v2.* INTO v FROM app.sessions s JOIN app.money_policy_versions v2 ON v2.version = s.money_policy_version
   WHERE s.id = p_session_id;
  RETURN v;
END
$$;

-- session_deposit_cents(session): the in-person deposit of the session's policy version, never more
-- than the plan price. Replaces the former $15 constant. Definer helper.
CREATE OR REPLACE FUNCTION app_private.session_deposit_cents(p_session_id uuid) RETURNS integer
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_deposit integer;
BEGIN
  SELECT least(v.deposit_cents, p.price_cents) INTO v_deposit
    FROM app.sessions s
    JOIN app.money_policy_versions v ON v.version = s.money_policy_version
    JOIN app.plans p ON p.code = s.plan_code
   WHERE s.id = p_session_id;
  RETURN v_deposit;
END
$$;

-- money_policy_problems(version): what is wrong with a version, empty when it is complete: per
-- service mode, the lead-time tiers must tile (-infinity, +infinity) without gaps or overlaps, and
-- the no_show, missing_waiver and unmatched tiers must exist. Definer helper (the deferred check, tests).
CREATE OR REPLACE FUNCTION app_private.money_policy_problems(p_version integer) RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_problems text[] := '{}'::text[];
  v_mode text;
  r record;
  v_prev interval;
  v_first boolean;
  v_open boolean;
BEGIN
  FOREACH v_mode IN ARRAY ARRAY['online', 'in_person'] LOOP
    v_first := true;
    v_open := false;
    FOR r IN SELECT c.tier, c.min_lead, c.max_lead FROM app.cancellation_policies c
              WHERE c.version = p_version AND c.service_mode = v_mode
                AND c.tier NOT IN ('no_show', 'missing_waiver', 'unmatched')
              ORDER BY c.min_lead NULLS FIRST LOOP
      IF v_first AND r.min_lead IS NOT NULL THEN
        v_problems := v_problems || format('%s: no tier for the shortest lead times (below %s)', v_mode, r.min_lead);
      ELSIF NOT v_first AND (v_open OR r.min_lead IS DISTINCT FROM v_prev) THEN
        v_problems := v_problems || format('%s: tier %s does not start where the previous one ends (%s)',
                                           v_mode, r.tier, coalesce(v_prev::text, 'unbounded'));
      END IF;
      v_open := r.max_lead IS NULL;
      v_prev := r.max_lead;
      v_first := false;
    END LOOP;
    IF v_first THEN
      v_problems := v_problems || format('%s: no lead-time tiers', v_mode);
    ELSIF NOT v_open THEN
      v_problems := v_problems || format('%s: no tier for lead times of %s and more', v_mode, v_prev);
    END IF;
    IF NOT EXISTS (SELECT FROM app.cancellation_policies c
                    WHERE c.version = p_version AND c.service_mode = v_mode AND c.tier = 'no_show') THEN
      v_problems := v_problems || format('%s: no no_show tier', v_mode);
    END IF;
    IF NOT EXISTS (SELECT FROM app.cancellation_policies c
                    WHERE c.version = p_version AND c.service_mode = v_mode AND c.tier = 'missing_waiver') THEN
      v_problems := v_problems || format('%s: no missing_waiver tier', v_mode);
    END IF;
    IF NOT EXISTS (SELECT FROM app.cancellation_policies c
                    WHERE c.version = p_version AND c.service_mode = v_mode AND c.tier = 'unmatched') THEN
      v_problems := v_problems || format('%s: no unmatched tier', v_mode);
    END IF;
  END LOOP;
  RETURN v_problems;
END
$$;

-- api.money_policy(version?): a policy version (default: the one in force now) with its tiers, as
-- JSON. Any signed-in role (the rules are public terms). Raises 404 policy_not_found.
CREATE OR REPLACE FUNCTION api.money_policy(p_version integer DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_version integer := coalesce(p_version, app_private.money_policy_version_at(app_private.now()));
  v jsonb;
BEGIN
  SELECT jsonb_build_object(
           'version', pv.version, 'effective_from', pv.effective_from, 'currency', pv.currency,
           'deposit_cents', pv.deposit_cents, 'commission_pct', pv.commission_pct, 'note', pv.note,
           'tiers', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                'service_mode', c.service_mode, 'tier', c.tier,
                                'min_lead_seconds', extract(epoch FROM c.min_lead)::bigint,
                                'max_lead_seconds', extract(epoch FROM c.max_lead)::bigint,
                                'refund_pct', c.refund_pct, 'fee_cents', c.fee_cents, 'credit_pct', c.credit_pct,
                                'mechanic_pct', c.mechanic_pct, 'description', c.description)
                              ORDER BY c.service_mode DESC, c.min_lead DESC NULLS LAST, c.tier)
                               FROM app.cancellation_policies c WHERE c.version = pv.version), '[]'::jsonb))
    INTO v
    FROM app.money_policy_versions pv WHERE pv.version = v_version;
  IF v IS NULL THEN
    PERFORM app_private.raise_error(404, 'policy_not_found', 'No such policy version',
                                    jsonb_build_object('version', p_version));
  END IF;
  RETURN v;
END
$$;
COMMENT ON FUNCTION api.money_policy(integer) IS
  'A money policy version (default: the one in force now): deposit, platform commission and the cancellation tiers per service mode. Customer, mechanic, admin. Raises 404 policy_not_found.';
GRANT EXECUTE ON FUNCTION api.money_policy(integer) TO autodoc_customer, autodoc_mechanic, autodoc_admin;

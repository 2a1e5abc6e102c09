-- depends: 0015_retire_worker_reads
-- Real identity (issue 14): people sign in with an identity provider and onboard themselves.
-- A deleted account keeps its users row (money and audit rows refer to it) with every personal
-- field erased and deleted_at set; mechanic applications wait for an admin's decision.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE app.users ADD COLUMN deleted_at timestamptz;

-- A person's request to work as a mechanic. Nothing here is public: the directory reads
-- app.mechanics, which approval fills (api.approve_mechanic_application). user_id is the
-- applicant's token subject; no foreign key, because an applicant usually has no users row yet.
CREATE TABLE app.mechanic_applications (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL,
  email text NOT NULL,
  full_name text NOT NULL,
  phone text,
  bio text,
  specialties text[] NOT NULL DEFAULT '{}',
  brand_specialist_brands text[] NOT NULL DEFAULT '{}',
  years_of_experience integer NOT NULL DEFAULT 0,
  certifications text[] NOT NULL DEFAULT '{}',
  country text,
  state_province text,
  city text,
  postal_code text,
  timezone text,
  workshop_id uuid REFERENCES app.workshops (id) ON DELETE SET NULL,
  status text NOT NULL DEFAULT 'pending',
  decided_by uuid REFERENCES app.users (id) ON DELETE SET NULL,
  decided_at timestamptz,
  decision_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT mechanic_applications_status_valid CHECK (status IN ('pending', 'approved', 'rejected')),
  CONSTRAINT mechanic_applications_decided CHECK ((status = 'pending') = (decided_at IS NULL)),
  CONSTRAINT mechanic_applications_name_present CHECK (btrim(full_name) <> ''),
  CONSTRAINT mechanic_applications_email_looks_valid CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
  CONSTRAINT mechanic_applications_experience_sensible CHECK (years_of_experience BETWEEN 0 AND 80),
  CONSTRAINT mechanic_applications_timezone_valid CHECK (timezone IS NULL OR app_private.is_valid_timezone(timezone)),
  -- an independent mechanic works in their own zone; a workshop mechanic in the workshop's
  CONSTRAINT mechanic_applications_zone_or_workshop CHECK (workshop_id IS NOT NULL OR timezone IS NOT NULL)
);
-- One open application per person (a second submit updates it: api.apply_as_mechanic).
CREATE UNIQUE INDEX mechanic_applications_one_pending ON app.mechanic_applications (user_id) WHERE status = 'pending';
CREATE INDEX mechanic_applications_user_id_idx ON app.mechanic_applications (user_id, created_at);
CREATE INDEX mechanic_applications_status_idx ON app.mechanic_applications (status, created_at);
CREATE INDEX mechanic_applications_workshop_id_idx ON app.mechanic_applications (workshop_id);
CREATE INDEX mechanic_applications_decided_by_idx ON app.mechanic_applications (decided_by);
ALTER TABLE app.mechanic_applications ENABLE ROW LEVEL SECURITY;

-- The API's login role starts each request with app_private.begin_request (db/functions/00_identity.sql),
-- its only privilege of its own.
GRANT USAGE ON SCHEMA app_private TO autodoc_api;

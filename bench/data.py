"""Bench data, generated set-based (INSERT ... SELECT generate_series) straight into app.* tables.

Bulk data bypasses the session factory on purpose (100,000 factory calls would take minutes); it runs
as the superuser with `session_replication_role = replica`, which skips triggers (lifecycle, audit,
FK checks) but NOT check or exclusion constraints, so every row still passes
sessions_no_mechanic_overlap / sessions_no_customer_overlap. The data is valid by construction:

- 5 time zones (two with DST in opposite hemispheres, one half-hour offset); workshops in each zone
  with three styles of opening hours; 60% workshop mechanics, 40% independents (three quarters with
  weekly blocks, a quarter on the default window).
- existing sessions: per mechanic, distinct 30-minute slots of the local 09:00-18:00 grid over the
  30 days before and after today; past ones completed (10% cancelled), future ones scheduled (10%
  cancelled). All sessions are 30 minutes and start on UTC half hours (every zone offset is a
  multiple of 30 minutes), so two of them overlap only when they start at the same instant; the
  customer is (mechanic index + 7 * UTC half-hour index) mod #customers, which is injective in the
  mechanic for a fixed start: no customer is double-booked either.
- time off: 30% of mechanics 1-3 whole local days, 20% one afternoon (13:00-17:00 local).
- a separate pool of fresh customers (each with a vehicle) for the booking benchmark: one booking
  per customer, because the factory refuses a second upcoming appointment (duplicate_booking).
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import psycopg

from bench.common import Ctx, Stopwatch

ZONES = ["America/Toronto", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney"]


def sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"mechanics": 200, "workshops": 20, "sessions_per_mechanic": 50, "existing_customers": 4000,
                "booking_customers": 12000}
    return {"mechanics": 1000, "workshops": 100, "sessions_per_mechanic": 100, "existing_customers": 20000,
            "booking_customers": 80000}


GENERATE_SQL = """
SET session_replication_role = replica;
SELECT setseed(0.42);
CREATE SCHEMA bench;
CREATE TABLE bench.zones (z int PRIMARY KEY, name text NOT NULL);
INSERT INTO bench.zones SELECT i - 1, z FROM unnest(%(zones)s::text[]) WITH ORDINALITY AS t(z, i);

-- workshops: idx mod 5 = zone; hours style idx mod 3
CREATE TABLE bench.workshops AS
  SELECT w AS idx, gen_random_uuid() AS id, w %% 5 AS z FROM generate_series(0, %(workshops)s - 1) w;
INSERT INTO app.workshops (id, name, city, country, timezone)
  SELECT b.id, 'Bench workshop ' || b.idx, 'City ' || b.z, 'XX', z.name
  FROM bench.workshops b JOIN bench.zones z USING (z);
INSERT INTO app.workshop_availability (workshop_id, day_of_week, is_open, open_time, close_time)
  SELECT b.id, d,
         h.open_time IS NOT NULL, h.open_time, h.close_time
  FROM bench.workshops b CROSS JOIN generate_series(0, 6) d
  CROSS JOIN LATERAL (SELECT
    CASE b.idx %% 3
      WHEN 0 THEN CASE WHEN d BETWEEN 1 AND 5 THEN time '09:00' WHEN d = 6 THEN time '10:00' END
      WHEN 1 THEN CASE WHEN d BETWEEN 1 AND 6 THEN time '08:00' END
      ELSE CASE WHEN d BETWEEN 1 AND 5 THEN time '10:00' WHEN d = 0 THEN time '12:00' END
    END AS open_time,
    CASE b.idx %% 3
      WHEN 0 THEN CASE WHEN d BETWEEN 1 AND 5 THEN time '18:00' WHEN d = 6 THEN time '14:00' END
      WHEN 1 THEN CASE WHEN d BETWEEN 1 AND 6 THEN time '17:00' END
      ELSE CASE WHEN d BETWEEN 1 AND 5 THEN time '19:00' WHEN d = 0 THEN time '16:00' END
    END AS close_time) h;

-- mechanics: the first 60%% work in a workshop (mechanic idx %% #workshops), the rest are independent
CREATE TABLE bench.mechanics AS
  SELECT i AS idx, gen_random_uuid() AS user_id,
         CASE WHEN i < %(mechanics)s * 6 / 10 THEN i %% %(workshops)s END AS workshop_idx,
         i %% 5 AS z
  FROM generate_series(0, %(mechanics)s - 1) i;
ALTER TABLE bench.mechanics ADD PRIMARY KEY (idx);
INSERT INTO app.users (id, email, full_name, role)
  SELECT user_id, 'mechanic' || idx || '@bench.example', 'Mechanic ' || idx, 'mechanic' FROM bench.mechanics;
INSERT INTO app.mechanics (user_id, display_name, workshop_id, rating, rating_count, specialties,
                           brand_specialist_brands, years_of_experience, country, city, timezone, currently_on_shift)
  SELECT m.user_id, 'Mechanic ' || m.idx, w.id, round((3 + random() * 2)::numeric, 2), (random() * 200)::int,
         ARRAY['brakes', 'engine'], CASE WHEN m.idx %% 4 = 0 THEN ARRAY['Honda'] ELSE '{}' END,
         (random() * 30)::int, 'XX', 'City ' || m.z, z.name, m.idx %% 3 = 0
  FROM bench.mechanics m JOIN bench.zones z USING (z) LEFT JOIN bench.workshops w ON w.idx = m.workshop_idx;
-- independents: three quarters have weekly blocks (Mon-Fri 09-12 + 13-17, Sat 10-13), the rest the default window
INSERT INTO app.mechanic_availability_blocks (mechanic_id, day_of_week, start_time, end_time)
  SELECT m.user_id, d, b.s, b.e
  FROM bench.mechanics m CROSS JOIN generate_series(1, 6) d
  CROSS JOIN (VALUES (time '09:00', time '12:00'), (time '13:00', time '17:00'), (time '10:00', time '13:00')) b(s, e)
  WHERE m.workshop_idx IS NULL AND m.idx %% 4 <> 0
    AND ((d BETWEEN 1 AND 5 AND b.s <> time '10:00') OR (d = 6 AND b.s = time '10:00'));

-- customers: [0, existing) own the existing sessions, [existing, existing + booking) are fresh for the booking bench
CREATE TABLE bench.customers AS
  SELECT i AS idx, gen_random_uuid() AS user_id, gen_random_uuid() AS vehicle_id
  FROM generate_series(0, %(existing_customers)s + %(booking_customers)s - 1) i;
ALTER TABLE bench.customers ADD PRIMARY KEY (idx);
INSERT INTO app.users (id, email, full_name, role)
  SELECT user_id, 'customer' || idx || '@bench.example', 'Customer ' || idx, 'customer' FROM bench.customers;
INSERT INTO app.customers (user_id, country, city) SELECT user_id, 'XX', 'City ' || idx %% 5 FROM bench.customers;
INSERT INTO app.vehicles (id, customer_id, year, make, model)
  SELECT vehicle_id, user_id, 2000 + idx %% 25, (ARRAY['Honda', 'Toyota', 'Ford', 'BMW'])[1 + idx %% 4], 'Model'
  FROM bench.customers;

-- existing sessions: distinct local grid slots per mechanic over [-30, +30) days
INSERT INTO app.sessions (customer_id, mechanic_id, plan_code, type, service_mode, vehicle_id, concern,
                          concern_category, scheduled_for, ends_at, status, cancel_reason, created_at)
  SELECT c.user_id, x.user_id, 'standard', 'video', 'online', c.vehicle_id, 'Bench concern', 'diagnostic',
         x.starts, x.starts + interval '30 minutes',
         CASE WHEN x.cancelled THEN 'cancelled' WHEN x.starts < now() THEN 'completed' ELSE 'scheduled' END,
         CASE WHEN x.cancelled THEN 'customer' END,
         least(x.starts, now()) - interval '3 days'
  FROM (
    SELECT m.idx, m.user_id, s.starts, (m.idx * 31 + s.slot) %% 10 = 0 AS cancelled,
           (extract(epoch FROM s.starts)::bigint / 1800) AS half_hour
    FROM bench.mechanics m JOIN bench.zones z USING (z)
    CROSS JOIN LATERAL (
      SELECT g AS slot,
             (((now() AT TIME ZONE z.name)::date + (g / 18 - 30)) + time '09:00' + (g %% 18) * interval '30 minutes')
               AT TIME ZONE z.name AS starts
      FROM generate_series(0, 60 * 18 - 1) g
      WHERE m.idx >= 0            -- correlate, so every mechanic gets its own random draw
      ORDER BY random()
      LIMIT %(sessions_per_mechanic)s
    ) s
  ) x
  JOIN bench.customers c ON c.idx = (x.idx + 7 * x.half_hour) %% %(existing_customers)s;

-- time off: 30%% whole local days (1-3), 20%% one afternoon
INSERT INTO app.mechanic_time_off (mechanic_id, start_date, end_date, reason)
  SELECT m.user_id,
         ((now() AT TIME ZONE z.name)::date + (1 + (m.idx * 7) %% 25))::timestamp AT TIME ZONE z.name,
         ((now() AT TIME ZONE z.name)::date + (1 + (m.idx * 7) %% 25) + (1 + m.idx %% 3))::timestamp
           AT TIME ZONE z.name,
         'vacation'
  FROM bench.mechanics m JOIN bench.zones z USING (z) WHERE m.idx %% 10 < 3;
INSERT INTO app.mechanic_time_off (mechanic_id, start_date, end_date, reason)
  SELECT m.user_id,
         (((now() AT TIME ZONE z.name)::date + (1 + (m.idx * 11) %% 28)) + time '13:00') AT TIME ZONE z.name,
         (((now() AT TIME ZONE z.name)::date + (1 + (m.idx * 11) %% 28)) + time '17:00') AT TIME ZONE z.name,
         'appointment'
  FROM bench.mechanics m JOIN bench.zones z USING (z) WHERE m.idx %% 10 IN (3, 4);

-- an admin for the booking bench (books for customers, like an admin/DBA would)
INSERT INTO app.users (id, email, full_name, role)
  VALUES (gen_random_uuid(), 'admin@bench.example', 'Bench admin', 'admin');
SET session_replication_role = DEFAULT;
"""


def generate(ctx: Ctx) -> dict[str, Any]:
    """Load the bench data set into ctx's database; returns sizes, counts and the mechanic-day sample."""
    sz = sizes(ctx.quick)
    sw = Stopwatch()
    with psycopg.connect(ctx.su_dsn) as conn:
        # client-side binding: the script has many statements
        psycopg.ClientCursor(conn).execute(GENERATE_SQL, {"zones": ZONES, **sz})
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        counts = conn.execute("""
            SELECT (SELECT count(*) FROM app.mechanics),
                   (SELECT count(*) FROM app.mechanics WHERE workshop_id IS NOT NULL),
                   (SELECT count(*) FROM app.workshops),
                   (SELECT count(*) FROM app.sessions),
                   (SELECT count(*) FROM app.sessions WHERE status = 'scheduled'),
                   (SELECT count(*) FROM app.mechanic_time_off),
                   (SELECT count(*) FROM app.mechanic_availability_blocks),
                   (SELECT count(*) FROM app.customers)""").fetchone()
        assert counts is not None
        mechanics = conn.execute("""
            SELECT m.idx, m.user_id::text, z.name, (now() AT TIME ZONE z.name)::date, m.workshop_idx IS NOT NULL
            FROM bench.mechanics m JOIN bench.zones z USING (z) ORDER BY m.idx""").fetchall()
        admin = conn.execute("SELECT id::text FROM app.users WHERE email = 'admin@bench.example'").fetchone()
        assert admin is not None
    rng = random.Random(7)
    n_days = 40 if ctx.quick else 200
    # mechanic-days: a random mechanic and a random local date among the next 29 days
    sample = []
    for _ in range(n_days):
        _, mid, zone, today, _ = rng.choice(mechanics)
        sample.append((mid, zone, today + timedelta(days=rng.randint(1, 29))))
    info: dict[str, Any] = {
        "sizes": sz,
        "mechanics": counts[0], "workshop_mechanics": counts[1], "independent_mechanics": counts[0] - counts[1],
        "workshops": counts[2], "sessions": counts[3], "scheduled_sessions": counts[4], "time_off": counts[5],
        "availability_blocks": counts[6], "customers": counts[7], "zones": ZONES,
        "generate_seconds": round(sw.s(), 1),
    }
    ctx.data = {"info": info, "sample": sample, "admin_id": admin[0], "mechanics": mechanics}
    return info

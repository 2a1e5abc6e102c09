"""The demo data set `make run` loads (db/seed/demo.sql): it loads, loads again as a no-op, gives
every role something to click through, leaves a customer free to book right away, shows no
rating without reviews, and mails nobody about the past."""

from __future__ import annotations

from api.config import PROJECT_ROOT
from tests.py.conftest import ClonedDatabase

DEMO = (PROJECT_ROOT / "db" / "seed" / "demo.sql").read_text()


def test_the_demo_data_loads_twice_and_is_worth_clicking_through(database: ClonedDatabase) -> None:
    import psycopg

    for _ in range(2):  # `make run` seeds on every start
        with psycopg.connect(database.owner_dsn) as conn:
            conn.execute(DEMO.encode())
    with database.connect() as conn:
        roles = dict(conn.execute("SELECT role, count(*) FROM app.users GROUP BY role").fetchall())
        assert roles["admin"] >= 1 and roles["customer"] >= 3 and roles["mechanic"] >= 4
        zones = conn.execute("SELECT count(DISTINCT timezone) FROM app.workshops").fetchone()
        assert zones is not None and zones[0] >= 3, "workshops in several time zones"
        upcoming = conn.execute("SELECT count(*) FROM app.sessions WHERE status = 'scheduled' "
                                "AND scheduled_for > now()").fetchone()
        assert upcoming is not None and upcoming[0] >= 2, "upcoming appointments to look at"
        past_mail = conn.execute(
            "SELECT count(*) FROM app.outbox o JOIN app.sessions s ON s.id = o.session_id "
            "WHERE o.kind = 'email.send' AND o.status = 'pending' AND s.ends_at < now()").fetchone()
        assert past_mail == (0,), "nobody is mailed about an appointment that is already over"
        free = conn.execute(
            "SELECT u.email FROM app.customers c JOIN app.users u ON u.id = c.user_id "
            "WHERE EXISTS (SELECT FROM app.vehicles v WHERE v.customer_id = c.user_id) "
            "AND NOT EXISTS (SELECT FROM app.sessions s WHERE s.customer_id = c.user_id) ORDER BY u.email").fetchall()
        assert ("emma@autodoctor.demo",) in free, "a customer with a vehicle and nothing booked can book at once"
        unreviewed = conn.execute("SELECT display_name, rating FROM app.mechanics "
                                  "WHERE rating > 0 AND rating_count = 0").fetchall()
        assert unreviewed == [], "no rating from zero reviews"
        assert conn.execute("SELECT count(*) FROM app.mechanics WHERE rating_count > 0").fetchone() == (6,)
        no_zone = conn.execute("SELECT count(*) FROM app.customers WHERE timezone IS NULL").fetchone()
        assert no_zone == (0,), "every demo customer reads times in their own zone"

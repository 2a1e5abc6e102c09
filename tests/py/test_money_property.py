# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""Money is conserved, whatever happens (Hypothesis over random timelines).

Each example is a timeline over a few customers: bookings paid by card, by credit or both (some
through a slot hold that becomes the booking, lapses or is given back), reschedules, customer
cancellations at random lead times (sometimes twice), completed sessions, declined cards, webhook
events replayed and out of order, a worker that dies between Stripe's answer and the write-back of
a refund, jobs run twice. Real parts: the database, the worker, localstripe behind the replaying
idempotency proxy (as in the crash tests). After every timeline, for every session:

    card charged + credit spent = card refunded + credit back + mechanic share + platform share
                                  (+ what the pot still holds, which must be 0 once it is over)

with the charges and refunds read from the payment records, the rest from the ledger; every
ledger transaction balances; no refund exceeds its charge (records and Stripe); what localstripe
holds for our payments equals the ledger's card totals; api.reconcile_payments() is empty.
The number of timelines and steps run is printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.config import Settings
from api.effects import EffectError, Job
from api.effects.stripe_effects import StripeEffects
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    fx_settings,
    intents_for_payment,
    local_stripe,
    one,
    refunds_for_payment,
    rows,
    run_worker_until_idle,
    smtp,
    stripe_proxy,
    su,
)
from tests.py.stripe_idempotency_proxy import IdempotencyProxy

CUSTOMERS = 3
STATS: Counter[str] = Counter()

customer = st.integers(0, CUSTOMERS - 1)
pick = st.integers(0, 1_000)  # which existing session (modulo how many there are)
# from just after the start to 3 days ahead, the tiers' edges included
lead_minutes = st.one_of(st.sampled_from([-10, 30, 119, 120, 121, 600, 1439, 1440, 1441, 2880]),
                         st.integers(-30, 3 * 24 * 60))
book = st.tuples(st.just("book"), customer, st.sampled_from(["online", "in_person"]),
                 st.sampled_from(["standard", "extended"]), lead_minutes,
                 st.sampled_from(["direct", "direct", "hold_convert", "hold_lapse", "hold_release"]))
cancel = st.tuples(st.just("cancel"), pick, st.booleans(), st.booleans())
worker = st.tuples(st.just("worker"), st.sampled_from([False, False, False, True]))  # True: cards decline
step = st.one_of(  # bookings, cancellations and worker runs weigh more: they are what moves money
    book, book, book, cancel, cancel, worker, worker,
    st.tuples(st.just("grant_credit"), customer, st.sampled_from([500, 1500, 5000])),
    st.tuples(st.just("reschedule"), pick, lead_minutes),
    st.tuples(st.just("complete"), pick),
    st.tuples(st.just("webhook"), pick, st.sampled_from(["succeeded", "failed"]), st.booleans()),
    st.tuples(st.just("crash_mid_refund")),
    st.tuples(st.just("jobs_twice")),
)


class Timeline:
    def __init__(self, su: psycopg.Connection[Any], cfg: Settings) -> None:
        self.su, self.cfg = su, cfg
        self.customers = [str(one(su, "SELECT tests.se_customer()")) for _ in range(CUSTOMERS)]
        self.sessions: list[tuple[str, str]] = []  # (session id, customer id), holds included
        self.appointments: list[tuple[str, str]] = []  # the ones that became bookings

    def _as(self, user_id: str, role: str, query: str, params: list[Any]) -> Any:
        with self.su.transaction():
            self.su.execute(f"SET LOCAL ROLE autodoc_{role}")
            self.su.execute("SELECT set_config('request.jwt.claims', %s, true)",
                            [json.dumps({"sub": user_id, "role": role})])
            row = self.su.execute(query, params).fetchone()
            return row

    def _session(self, n: int) -> tuple[str, str] | None:
        return self.sessions[n % len(self.sessions)] if self.sessions else None

    def run(self, s: tuple[Any, ...]) -> None:
        if os.environ.get("MONEY_PROPERTY_TRACE"):
            print("STEP", s, len(self.appointments), file=sys.stderr)
        STATS["steps"] += 1
        STATS[s[0]] += 1
        try:
            getattr(self, "do_" + s[0])(*s[1:])
        except psycopg.errors.ExclusionViolation:
            STATS["overlap_refused"] += 1  # the customer already has something at that time
        except psycopg.Error as e:
            if e.sqlstate and e.sqlstate.startswith("AD4"):
                STATS["refused:" + str(e.diag.message_hint)] += 1  # not cancellable, payment pending, ...
            else:
                raise

    def do_book(self, c: int, mode: str, plan: str, lead: int, how: str) -> None:
        cust = self.customers[c]
        # a customer's bookings are spaced an hour apart, so they do not overlap one another
        lead += 61 * sum(1 for _, owner in self.sessions if owner == cust)
        status = "scheduled" if how == "direct" else "held"
        sid = str(one(self.su, "SELECT tests.se_session(%s, tests.se_mechanic('America/Toronto', %s), "
                               "date_trunc('minute', now()) + make_interval(mins => %s), %s, %s, %s)",
                      [cust, mode == "in_person", lead, mode, status, plan]))
        if how == "hold_convert":
            self.su.execute("UPDATE app.sessions SET status = 'scheduled', type = 'video', concern = 'Noise', "
                            "concern_category = 'diagnostic' WHERE id = %s", [sid])
        elif how == "hold_lapse":
            self.su.execute("UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'expired' WHERE id = %s",
                            [sid])
        elif how == "hold_release":
            self._as(cust, "customer", "SELECT api.release_hold(%s)", [sid])
        self.sessions.append((sid, cust))
        if how in ("direct", "hold_convert"):
            self.appointments.append((sid, cust))

    def do_grant_credit(self, c: int, cents: int) -> None:  # an admin's goodwill credit
        self.su.execute("UPDATE app.customers SET credit_balance_cents = credit_balance_cents + %s WHERE user_id = %s",
                        [cents, self.customers[c]])

    def do_worker(self, declines: bool) -> None:
        if declines:  # every charge due now is declined (the booking is cancelled, its credit given back)
            STATS["worker_with_declining_cards"] += 1
            run_worker_until_idle(replace(self.cfg, stripe_test_payment_method="pm_card_chargeCustomerFail"))
        else:
            run_worker_until_idle(self.cfg)

    def do_cancel(self, n: int, twice: bool, settle_first: bool) -> None:
        """Cancel one of the bookings (its charge settled first, or maybe still in flight: 409)."""
        found = self.appointments[n % len(self.appointments)] if self.appointments else None
        if not found:
            STATS["cancel_nothing_booked_yet"] += 1
        else:
            if settle_first:
                run_worker_until_idle(self.cfg)
            first = self._as(found[1], "customer", "SELECT api.cancel_session(%s) AS b", [found[0]])
            STATS["cancelled:" + first["b"]["tier"]] += 1
            if twice:
                again = self._as(found[1], "customer", "SELECT api.cancel_session(%s) AS b", [found[0]])
                assert again["b"]["already_cancelled"] and again["b"]["refund_cents"] == first["b"]["refund_cents"]

    def do_reschedule(self, n: int, lead: int) -> None:
        found = self._session(n)
        if found:
            self.su.execute("UPDATE app.sessions SET scheduled_for = date_trunc('minute', now()) "
                            "+ make_interval(mins => %s), ends_at = date_trunc('minute', now()) "
                            "+ make_interval(mins => %s) + (ends_at - scheduled_for) "
                            "WHERE id = %s AND status = 'scheduled'", [lead, lead, found[0]])

    def do_complete(self, n: int) -> None:
        found = self._session(n)
        if found and one(self.su, "SELECT status = 'scheduled' AND NOT EXISTS (SELECT 1 FROM app.scheduled_payments "
                                  "WHERE session_id = %s AND status <> 'succeeded') FROM app.sessions WHERE id = %s",
                         [found[0], found[0]]):
            for status in ("pending", "active", "completed"):
                self.su.execute("UPDATE app.sessions SET status = %s WHERE id = %s", [status, found[0]])

    def do_webhook(self, n: int, outcome: str, replay: bool) -> None:
        """A Stripe event for one of the session's PaymentIntents, sent (maybe twice) after the fact:
        a replay of a success, or a failure arriving after the success (out of order)."""
        found = self._session(n)
        if not found:
            return
        pay = self.su.execute("SELECT id, payment_intent_id FROM app.scheduled_payments WHERE session_id = %s "
                              "AND payment_intent_id IS NOT NULL LIMIT 1", [found[0]]).fetchone()
        if not pay:
            return
        kind = "payment_intent.succeeded" if outcome == "succeeded" else "payment_intent.payment_failed"
        event = {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": kind,
                 "data": {"object": {"id": pay["payment_intent_id"], "object": "payment_intent",
                                     "metadata": {"payment_id": str(pay["id"])}}}}
        for _ in range(2 if replay else 1):
            self._as(str(uuid.uuid4()), "worker", "SELECT api.stripe_apply_event(%s::jsonb)", [json.dumps(event)])

    def do_crash_mid_refund(self) -> None:
        """A worker claims the due effects, gets Stripe's answer for the refunds, and dies before writing
        back; its leases then run out and the next worker redoes them with the same keys."""
        claimed = rows(self.su, "SELECT * FROM api.outbox_claim('crasher', 50, 60)")
        effects = StripeEffects(self.cfg)
        for r in claimed:
            if r["kind"] == "stripe.refund" and r.get("skip_reason") is None:
                with contextlib.suppress(EffectError):  # a refund of a charge not settled yet: the retry decides
                    effects.refund(self.cfg, Job(r["id"], r["kind"], r["idempotency_key"], r["payload"], r["attempts"]))
                    STATS["refund_crashed_after_call"] += 1
        self.su.execute("UPDATE app.outbox SET leased_until = now() - interval '1 second' WHERE locked_by = 'crasher' "
                        "AND status = 'running'")  # the dead worker's leases expire

    def do_jobs_twice(self) -> None:
        for _ in range(2):
            self.su.execute("SELECT api.release_expired_holds()")
            self.su.execute("SELECT api.send_due_reminders()")

    # ------------------------------------------------------------------ the invariants
    def check(self) -> None:
        for _ in range(3):  # settle everything (a late success may enqueue a refund, which then runs)
            run_worker_until_idle(self.cfg)
        # Every charge and refund has run. (Cancelling the open PaymentIntent of a hold whose card was
        # declined can stay in retry: localstripe reports no intent id with a decline.)
        left = rows(self.su, "SELECT id, kind, status, last_error FROM app.outbox "
                             "WHERE status <> 'done' AND kind IN ('stripe.charge', 'stripe.refund')")
        assert left == [], left
        assert rows(self.su, "SELECT t.id FROM app.ledger_transactions t "
                             "JOIN app.ledger_entries e ON e.transaction_id = t.id "
                             "GROUP BY t.id HAVING sum(e.amount_cents) <> 0 OR count(*) < 2") == [], "unbalanced"
        for sid, _cust in self.sessions:
            m = self.su.execute(MONEY_OF_SESSION, {"s": sid}).fetchone()
            assert m is not None
            lhs = m["card_charged"] + m["credit_spent"]
            rhs = m["card_refunded"] + m["credit_back"] + m["mechanic"] + m["platform"] + m["pot"]
            assert lhs == rhs, f"money not conserved for {sid}: {m}"
            if m["status"] in ("cancelled", "completed"):
                assert m["pot"] == 0, f"a session that is over still holds money: {m}"
            STATS["sessions_checked"] += 1
        for p in rows(self.su, "SELECT p.id, p.amount_cents, p.status, "
                               "coalesce((SELECT sum(r.amount_cents) FROM app.payment_refunds r "
                               "WHERE r.payment_id = p.id AND r.status = 'succeeded'), 0) AS refunded "
                               "FROM app.scheduled_payments p"):
            at_stripe = [pi for pi in intents_for_payment(str(p["id"])) if pi.status == "succeeded"]
            stripe_refunds = [r for r in refunds_for_payment(str(p["id"])) if r.status == "succeeded"]
            charged = sum(pi.amount for pi in at_stripe)
            assert len(at_stripe) <= 1, "one PaymentIntent per payment"
            assert sum(r.amount for r in stripe_refunds) <= charged, "Stripe never refunds more than it charged"
            assert p["refunded"] <= p["amount_cents"], "no refund exceeds its charge"
            assert charged == (p["amount_cents"] if p["status"] in ("succeeded", "refunded") else 0), p
            assert sum(r.amount for r in stripe_refunds) == p["refunded"], p
        stripe_net = sum(sum(pi.amount for pi in intents_for_payment(str(p["id"])) if pi.status == "succeeded")
                         - sum(r.amount for r in refunds_for_payment(str(p["id"])) if r.status == "succeeded")
                         for p in rows(self.su, "SELECT id FROM app.scheduled_payments"))
        ledger_card = one(self.su, "SELECT coalesce(-sum(balance_cents), 0) FROM app.ledger_accounts "
                                   "WHERE kind = 'customer_card'")
        assert stripe_net == ledger_card, "localstripe's totals equal the ledger's card totals"
        assert rows(self.su, "SELECT * FROM api.reconcile_payments()") == [], "reconciliation finds nothing"


# Per session: card money from the payment records, credit and shares from the ledger.
MONEY_OF_SESSION = """
SELECT s.status,
  (SELECT coalesce(sum(p.amount_cents), 0) FROM app.scheduled_payments p
    WHERE p.session_id = s.id AND p.status IN ('succeeded', 'refunded')) AS card_charged,
  (SELECT coalesce(sum(r.amount_cents), 0) FROM app.payment_refunds r
     JOIN app.scheduled_payments p ON p.id = r.payment_id
    WHERE p.session_id = s.id AND r.status = 'succeeded') AS card_refunded,
  coalesce(sum(-e.amount_cents) FILTER (WHERE a.kind = 'customer_credit' AND e.amount_cents < 0), 0) AS credit_spent,
  coalesce(sum(e.amount_cents) FILTER (WHERE a.kind = 'customer_credit' AND e.amount_cents > 0), 0) AS credit_back,
  coalesce(sum(e.amount_cents) FILTER (WHERE a.kind = 'mechanic_payable'), 0) AS mechanic,
  coalesce(sum(e.amount_cents) FILTER (WHERE a.kind = 'platform_revenue'), 0) AS platform,
  coalesce(sum(e.amount_cents) FILTER (WHERE a.kind = 'session'), 0) AS pot
FROM app.sessions s
LEFT JOIN app.ledger_transactions t ON t.session_id = s.id
LEFT JOIN app.ledger_entries e ON e.transaction_id = t.id
LEFT JOIN app.ledger_accounts a ON a.id = e.account_id
WHERE s.id = %(s)s
GROUP BY s.id, s.status
"""


@pytest.fixture
def proxied(fx_settings: Settings, stripe_proxy: IdempotencyProxy) -> Settings:
    return replace(fx_settings, stripe_api_base=stripe_proxy.url)


# Timelines every run goes through besides the random ones: each cancellation tier of both modes
# (settled first), a double cancel, credit-paid bookings, a refund whose worker dies after Stripe
# answered, a completion with the in-person balance, declining cards on a hold.
EXAMPLES = [
    [("grant_credit", 0, 1500), ("book", 0, "online", "standard", 3000, "direct"),
     ("book", 1, "online", "standard", 600, "hold_convert"), ("book", 2, "online", "extended", 60, "direct"),
     ("cancel", 0, True, True), ("crash_mid_refund",), ("cancel", 1, False, True), ("cancel", 2, True, True),
     ("worker", False)],
    [("book", 0, "in_person", "standard", 3000, "direct"), ("book", 1, "in_person", "extended", 600, "direct"),
     ("book", 2, "in_person", "standard", 3000, "direct"), ("grant_credit", 1, 5000),
     ("book", 1, "online", "standard", 2000, "hold_lapse"), ("worker", True),
     ("cancel", 0, True, True), ("cancel", 1, False, True), ("complete", 2), ("worker", False),
     ("webhook", 2, "failed", True), ("jobs_twice",)],
]


def with_examples(test: Any) -> Any:
    for timeline in EXAMPLES:
        test = example(timeline=timeline)(test)
    return test


@with_examples
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(timeline=st.lists(step, min_size=6, max_size=20))
def test_money_is_conserved_over_random_timelines(timeline: list[tuple[Any, ...]], proxied: Settings,
                                                  su: psycopg.Connection[Any]) -> None:
    STATS["timelines"] += 1
    # Hypothesis seeds the global `random` the same way for every example; localstripe (in this
    # process) draws its object ids from it, and would hand out the same ids again (409 Conflict).
    random.seed(os.urandom(16))
    t = Timeline(su, proxied)
    for s in timeline:
        t.run(s)
    t.check()


@pytest.fixture(scope="module", autouse=True)
def _print_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print how much was exercised, past pytest's output capture (the terminal reporter)."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    line = (f"money property: {STATS['timelines']} timelines, {STATS['steps']} steps, "
            f"{STATS['sessions_checked']} session checks; "
            + ", ".join(f"{k}={v}" for k, v in sorted(STATS.items())
                        if k not in ("timelines", "steps", "sessions_checked")))
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("\n" + line)
    else:
        print(line)

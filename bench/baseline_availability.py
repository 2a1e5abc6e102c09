"""The plan's `AvailabilityService` (booking-scheduling-plan.md, "AvailabilityService Integration"),
implemented literally in Python with psycopg: the baseline the SQL availability functions are measured
against, on the same tables and the same mechanic-days.

Literal means: `getAvailableSlots` walks a fixed 09:00-18:00 grid of 30-minute slots in the *server's*
local time (UTC here: the plan's `Date.setHours` is time-zone naive) and calls `isAvailable` per slot;
`isAvailable` runs its queries one after another — the mechanic, the workshop's hours for that day of
week, time off, existing `scheduled` sessions — and then checks the 2-hour notice in the client. It
keeps the plan's logic, bugs included (hour-only opening check, time off must *contain* the slot,
bookings found only by a start inside the slot, immediate/held/pending bookings ignored); only the
speed is compared, and the column names are ours (`mechanic_id` for the plan's `mechanic_user_id`).

It is generous to the plan: psycopg on the local Unix socket with auto-prepared statements, where the
plan makes each query an HTTPS round trip through the Supabase client.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg


class AvailabilityService:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.queries = 0  # how many SQL round trips the last calls made

    def _all(self, query: str, params: tuple[Any, ...]) -> list[Any]:
        self.queries += 1
        return self.conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def _single(self, query: str, params: tuple[Any, ...]) -> Any:
        rows = self._all(query, params)
        return rows[0] if len(rows) == 1 else None  # supabase .single(): exactly one row or an error

    def is_available(self, mechanic_id: str, start_time: datetime, end_time: datetime) -> bool:
        # 1. Check mechanic's base availability (blocks or workshop hours)
        mechanic = self._single("SELECT workshop_id, state_province FROM app.mechanics WHERE user_id = %s",
                                (mechanic_id,))
        if not mechanic:
            return False
        workshop_id = mechanic[0]
        # If workshop-affiliated, check workshop hours
        if workshop_id:
            workshop_avail = self._single(
                "SELECT * FROM app.workshop_availability WHERE workshop_id = %s AND day_of_week = %s",
                (workshop_id, (start_time.weekday() + 1) % 7))  # JavaScript getDay(): Sunday = 0
            if not workshop_avail or not workshop_avail[2]:  # is_open
                return False
            start_hour = start_time.hour
            workshop_start = workshop_avail[3].hour  # parseInt(open_time.split(':')[0])
            workshop_end = workshop_avail[4].hour
            if start_hour < workshop_start or start_hour >= workshop_end:
                return False
        # 2. Check if mechanic has time off
        time_off = self._all("SELECT * FROM app.mechanic_time_off WHERE mechanic_id = %s "
                             "AND start_date <= %s AND end_date >= %s", (mechanic_id, start_time, end_time))
        if time_off:
            return False
        # 3. Check for existing bookings (prevent double-booking)
        existing = self._all("SELECT id, scheduled_for, type FROM app.sessions WHERE mechanic_id = %s "
                             "AND status = 'scheduled' AND scheduled_for >= %s AND scheduled_for <= %s",
                             (mechanic_id, start_time, end_time))
        if existing:
            return False
        # 4. Check minimum booking notice (e.g., 2 hours in advance)
        now = datetime.now(UTC)
        min_booking_time = now + timedelta(hours=2)
        return start_time >= min_booking_time

    def get_available_slots(self, mechanic_id: str, day: date) -> list[dict[str, Any]]:
        slots = []
        # Generate 30-minute slots from 9 AM to 6 PM
        for hour in range(9, 18):
            for minute in (0, 30):
                slot_start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                slot_end = slot_start + timedelta(minutes=30)
                available = self.is_available(mechanic_id, slot_start, slot_end)
                slots.append({"startTime": slot_start, "endTime": slot_end, "available": available})
        return slots

    def calendar(self, mechanic_id: str, first_day: date, days: int = 30) -> list[tuple[date, int]]:
        """The plan has no calendar call: a 30-day calendar is getAvailableSlots for each day."""
        out = []
        for i in range(days):
            d = first_day + timedelta(days=i)
            out.append((d, sum(1 for s in self.get_available_slots(mechanic_id, d) if s["available"])))
        return out

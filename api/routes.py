"""Every controller the app serves, in one list (each domain's handlers live in api/controllers/)."""

from __future__ import annotations

from typing import Any

ROUTE_HANDLERS: list[Any] = []

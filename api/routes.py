"""Every controller the app serves, in one list (each domain's handlers live in api/controllers/)."""

from __future__ import annotations

from typing import Any

from api.controllers import events, notifications
from api.controllers.admin import AdminController
from api.controllers.appointments import AppointmentsController, SessionsController, SlotHoldsController
from api.controllers.customers import CustomerController
from api.controllers.live_session import LiveSessionController
from api.controllers.matching import MatchingAdminController, OffersController, RequestNowController
from api.controllers.me import MeController
from api.controllers.mechanic_self import MechanicSelfController
from api.controllers.mechanics import MechanicsController
from api.controllers.money import MoneyController
from api.controllers.waitlist import AdminWaitlistController, WaitlistController
from api.controllers.webhooks import StripeWebhookController

ROUTE_HANDLERS: list[Any] = [
    MechanicsController, SlotHoldsController, SessionsController, AppointmentsController, CustomerController,
    MechanicSelfController, MeController, AdminController, StripeWebhookController, WaitlistController,
    AdminWaitlistController, LiveSessionController, *notifications.ROUTE_HANDLERS, RequestNowController,
    OffersController, MatchingAdminController, MoneyController, *events.ROUTE_HANDLERS,
]

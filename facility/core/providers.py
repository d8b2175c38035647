"""Which payment providers this installation can use: the one answer pages, the API and services ask.

Stripe is configured when `STRIPE_API_KEY` is set. Without it the facility offers no card payment
and no Stripe payout (forms leave those options out, no page links to a Stripe checkout, and the
services refuse them if they are posted anyway): only what can work is offered.
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

CARD_UNAVAILABLE = _l("Card payments are not available; pledge by bank transfer (wire) instead.")
STRIPE_PAYOUT_UNAVAILABLE = _l("Payouts to a Stripe account are not available; give bank or mobile-money details.")


def stripe_configured() -> bool:
    """Stripe can be used: the current app has a Stripe API key."""
    return bool(current_app.config.get("STRIPE_API_KEY"))

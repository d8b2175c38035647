"""Test doubles for outside services (a fake Stripe API server)."""

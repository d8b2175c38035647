"""Contributions, awards, grants, tranches, payout accounts and milestone evidence."""

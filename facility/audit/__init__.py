"""Append-only, hash-chained audit trail of security- and money-relevant actions."""

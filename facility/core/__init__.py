"""Pieces every domain package stands on: the database base, time, errors, hooks."""

"""Evaluation panels: reviewer assignment, scoring statistics and ranking.

`matching` and `statistics` are pure Python (plus numpy): no Flask, no
database session, so the algorithms can be tested exhaustively on their own
and reused by pages, the API and the benchmark alike.
"""

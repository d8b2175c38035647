"""Evaluation panels: reviewer assignment, blind reviews, ranking and decisions.

Where to look:

- `policy`: who may do what, and when (one `can_<action>(user, obj)` per action; pages, the
  API, the services and templates through `may("review.<action>", obj)` all ask it);
- `queries`: every read a page or the API needs (loaders raise NotFound);
- `facts`: the reads the rules are made of (panel seats, conflicts, outstanding reviews);
- services, by concept: `panels` (members, invitations, rounds), `conflicts`, `assignments`,
  `reviews` (drafting and submitting), `ranking` (and its CSV), `decisions` (prepare, release,
  feedback);
- `blind`: what a reviewer may read of a proposal;
- `matching` and `statistics`: pure Python (plus numpy), no Flask, no database session, so the
  algorithms can be tested exhaustively on their own (tests/review/oracles.py holds the other
  implementations they are checked against, which the benchmark also measures).
"""

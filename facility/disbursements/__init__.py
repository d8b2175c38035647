"""Disbursements: paying grant tranches to grantees.

Where to look:
- `models`: the status enum, its labels and its transition table (`DISBURSEMENT_TRANSITIONS`);
- `policy`: who may do what, and when (`can_approve`, `can_cancel`, ...): pages, API and services ask it;
- `queries`: every read the pages and the API need (`get_visible_disbursement`, the queue);
- `requests`: people's actions (request, approve, cancel, re-queue, confirm, fail);
- `payments` and `jobs`: the worker's side (claim, pay through the rail, record the answer, the sweep);
- `webhooks`: Stripe's events; `lifecycle`: the one transition function, booking, queueing, e-mails.

`stripe_gateway` is the only module that talks to Stripe (Connect transfers,
Checkout sessions for card contributions, webhook verification); `rails`
puts the Stripe and manual (bank / mobile-money) rails behind one interface.
Both take plain values (ids, cents, account ids), never database objects.
"""

"""Disbursements: paying grant tranches to grantees.

`stripe_gateway` is the only module that talks to Stripe (Connect transfers,
Checkout sessions for card contributions, webhook verification); `rails`
puts the Stripe and manual (bank / mobile-money) rails behind one interface.
Both take plain values (ids, cents, account ids), never database objects.
"""

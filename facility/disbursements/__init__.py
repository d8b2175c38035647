"""Disbursements: paying tranches to grantees, the payment rails and Stripe webhooks."""

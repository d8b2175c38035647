"""The portfolio: what the facility's money did, for staff (pipeline, cash forecast, exports, audit)
and for everyone (grants register, public ledger, results framework, open data).

It only reads the other packages (their models and queries); it changes nothing of theirs.
"""

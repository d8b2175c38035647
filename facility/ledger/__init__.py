"""Double-entry ledger: accounts, immutable transactions, invariants. See `services` for the scheme."""

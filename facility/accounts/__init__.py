"""Users, organisations, roles, authentication and API tokens."""

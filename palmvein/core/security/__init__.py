"""Staff identity: roles, password hashing, users, login throttling and signed tokens."""

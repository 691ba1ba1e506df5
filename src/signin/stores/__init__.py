"""Persistence behind small protocols: users, sessions, fail locks, one-time tokens."""

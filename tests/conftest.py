"""Shared test helpers. Area-specific fixtures live in the conftest.py of each test folder."""

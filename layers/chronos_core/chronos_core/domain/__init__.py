"""Entities, value objects and rules. No I/O imports here."""

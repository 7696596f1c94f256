"""Data and invariants of this app."""

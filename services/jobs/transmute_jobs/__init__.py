"""Transmute jobs service: the single writer of job state."""

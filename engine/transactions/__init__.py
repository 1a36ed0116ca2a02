"""Exactly-once processing: per-partition transactional producers and their transactions."""

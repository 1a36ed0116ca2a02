"""Instrumentation: the event catalogue and the per-app monitor."""

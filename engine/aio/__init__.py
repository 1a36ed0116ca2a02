"""Async consumers (API.md section 13): the app's event loop and what runs on it."""

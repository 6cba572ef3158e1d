"""Backends: where documents live (memory, SQLite, files, servers)."""

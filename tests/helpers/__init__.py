"""Helpers the test modules share: servers, child processes, the command line runner (fixtures are in conftest.py)."""

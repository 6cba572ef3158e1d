"""The ``storagebackend`` command line (also ``python -m storagebackend``).

``app`` parses and dispatches and reports errors; ``documents`` holds ls, show,
get, put and rm; ``transfer`` copy and check; ``demo`` the README's demo;
``output`` how values and progress are shown; ``exits`` the exit codes.
"""

from storagebackend.cli.app import main

__all__ = ["main"]

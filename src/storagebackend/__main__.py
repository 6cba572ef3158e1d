"""``python -m storagebackend``: the command line."""

import sys

from storagebackend.cli import main

sys.exit(main())

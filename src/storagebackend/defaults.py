"""The default value of every option, named once (API.md 2, 6 and 7; the README's options table).

Storage, the backends and transports, and the command line's help take their
defaults from here, so a default cannot differ between two of them.
"""

from __future__ import annotations

from typing import Final

__all__ = ["FTP_TIMEOUT", "LOCK_TIMEOUT", "MAX_KEY_LENGTH", "MAX_VALUE_SIZE", "S3_TIMEOUT", "SERVER_TIMEOUT"]

#: ``max_key_length``: characters in a key.
MAX_KEY_LENGTH: Final = 32
#: ``max_value_size``: bytes in a value.
MAX_VALUE_SIZE: Final = 65536
#: ``lock_timeout``: seconds to wait for another process's lock (a file's, a database's, a table's).
LOCK_TIMEOUT: Final = 5.0
#: ``timeout`` of PostgreSQL and Redis: seconds to connect, and to wait for each reply.
SERVER_TIMEOUT: Final = 10.0
#: ``timeout`` of FTP and FTPS: seconds to connect, and to wait for each reply or block of a transfer.
FTP_TIMEOUT: Final = 30.0
#: ``timeout`` of S3: seconds to connect, and to wait for each reply or block of a transfer.
S3_TIMEOUT: Final = 30.0

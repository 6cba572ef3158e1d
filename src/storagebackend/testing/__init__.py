"""storagebackend.testing: the suites a backend, transport or codec runs on itself in a few lines.

- :class:`StorageMachine` (``machine.py``): the conformance state machine, a
  hypothesis ``RuleBasedStateMachine`` that applies random operations to a
  store and to a plain dict model and compares them after every step.
- ``strategies.py``: hypothesis strategies for keys, values, documents, whole
  stores and uid spellings, tricky ones included.
- :class:`TransportTests` (``transports.py``): the Transport contract as
  pytest tests, which a transport subclasses in a few lines.
- :class:`CodecTests` (``codecs.py``): the Codec contract as pytest tests
  (hypothesis round trips, the marker, cuts, damaged and dangerous files),
  which a codec subclasses in a few lines.

Needs the ``test`` extra (hypothesis, pytest).
"""

from storagebackend.testing.codecs import CodecTests
from storagebackend.testing.machine import StorageMachine
from storagebackend.testing.strategies import (
    TRICKY_KEYS,
    TRICKY_VALUES,
    documents,
    invalid_keys,
    keys,
    stores,
    uid_forms,
    values,
)
from storagebackend.testing.transports import TransportTests

__all__ = [
    "TRICKY_KEYS",
    "TRICKY_VALUES",
    "CodecTests",
    "StorageMachine",
    "TransportTests",
    "documents",
    "invalid_keys",
    "keys",
    "stores",
    "uid_forms",
    "values",
]

"""Codecs: the file formats of cached file stores (json, msgpack, yaml, toml, ini)."""

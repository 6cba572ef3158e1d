"""Transports: where a cached file store's file lives (local disk, FTP, memory), and wrappers that stack on them."""

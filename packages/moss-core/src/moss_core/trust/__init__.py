"""Trust: signed repository indexes (minisign's formats, `policy` says what a refresh
accepts) and the store's BLAKE3 record of every asset."""

"""A reproducible, parallel zip writer; knows nothing of Lambda (writer, zip format records,
deflate backends, CRC-32, reuse of a previous zip's members, the worker pool)."""

"""``S3Path`` from whichever s3pathlib the host has: 3.x (Python 3.11+) or 2.3 (Python 3.10)."""

try:
    from s3pathlib.api import S3Path
except ImportError:  # s3pathlib 2.3, the last line that installs on Python 3.10
    from s3pathlib import S3Path  # type: ignore[attr-defined,no-redef,unused-ignore]

__all__ = ["S3Path"]

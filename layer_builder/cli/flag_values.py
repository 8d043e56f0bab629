"""The values the ``layer-builder`` flags offer, held here so that building the parser imports
no part of the library: ``--help`` and ``--version`` start at once.

Each is the library's own value, written out; tests/test_startup.py checks that they
still are.
"""

#: ``layer_builder.steps.build.INSTALLERS``
INSTALLERS = ("uv", "pip")
#: ``layer_builder.steps.package.step.DEFAULT_EXCLUDES``
DEFAULT_EXCLUDES = ("boto3", "botocore", "pip", "s3transfer", "setuptools", "wheel")
#: ``layer_builder.archive.deflate.BACKENDS``
BACKENDS = ("libdeflate", "zlib")
#: The keys of ``layer_builder.steps.package.slimming.STRIP_MODES``
STRIP_MODES = ("debug", "unneeded")

"""``python -m layer_builder.cli``."""

import sys

from layer_builder.cli.main import main

sys.exit(main())

"""``python -m hub`` is ``rps-hub``."""

import sys

from hub.cli import main

sys.exit(main())

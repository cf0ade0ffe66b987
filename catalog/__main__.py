"""``python -m catalog``: see catalog/cli.py."""

import sys

from catalog.cli import main

sys.exit(main())

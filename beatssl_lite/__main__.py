"""``python -m beatssl_lite pretrain ...``: the same command line as the ``beatssl-lite`` console script."""

import sys

from .cli import main

sys.exit(main())

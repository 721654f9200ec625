"""``python -m microgd``: the same command as the ``microgd`` console script."""

import sys

from microgd.cli import main

if __name__ == "__main__":
    sys.exit(main())

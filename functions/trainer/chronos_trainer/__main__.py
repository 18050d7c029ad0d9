"""``python -m chronos_trainer ...``: the container's entrypoint."""

from __future__ import annotations

import sys

from chronos_trainer.app import main

if __name__ == "__main__":
    sys.exit(main())

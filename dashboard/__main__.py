"""`python -m dashboard`: the command-line interface."""

import sys

from dashboard import interrupts

interrupts.install()  # before the libraries load: a Ctrl-C from now on is never lost
try:
    from dashboard.cli import main
except KeyboardInterrupt:  # Ctrl-C while the libraries load: nothing has started
    print("interrupted: nothing was changed", file=sys.stderr)
    sys.exit(130)

sys.exit(main())

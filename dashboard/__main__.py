"""`python -m dashboard`: the command-line interface."""

import os
import sys

from dashboard import interrupts

interrupts.install()  # before the libraries load: a Ctrl-C from now on is never lost
try:
    from dashboard.cli import main
except KeyboardInterrupt:  # Ctrl-C while the libraries load: nothing has started
    print("interrupted: nothing was changed", file=sys.stderr)
    sys.exit(130)

code = main()
if code == 130:
    # Interrupted: the transaction is already rolled back. Skip the interpreter's teardown, where a library's
    # worker thread still reading (pyarrow's CSV reader) can abort the process (SIGABRT) after the message.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)
sys.exit(code)

"""``python tests/support/streamlit_main.py run app.py ...``: Streamlit's own command line, plus
a dump of every thread's stack on SIGUSR1 (:mod:`faulthandler`, to stderr).

:class:`tests.support.browser.StreamlitServer` starts the dashboard through it, so that a test
which finds a page still running after its time is up can show where the server's threads are
(:meth:`~tests.support.browser.StreamlitServer.thread_dump`) instead of only that it waited.
"""

from __future__ import annotations

import faulthandler
import signal
import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a file, this folder came first on sys.path: the app must not import from it.
    if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]
    from streamlit.web.cli import main

    faulthandler.register(signal.SIGUSR1, all_threads=True)
    main(prog_name="streamlit")

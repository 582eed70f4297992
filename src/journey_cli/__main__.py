"""``python -m journey_cli``: the same as the ``journey`` command."""

import sys

from journey_cli.commands import main

sys.exit(main())

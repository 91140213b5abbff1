"""``python -m pyrama``: the same as the ``pyrama`` command."""

from pyrama.cli import main

raise SystemExit(main())

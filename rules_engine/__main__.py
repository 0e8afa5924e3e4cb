"""``python -m rules_engine`` runs the command-line interface."""

from rules_engine.cli.main import main

raise SystemExit(main())

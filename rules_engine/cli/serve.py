"""``rules-engine serve``: the sidecar (docs/sidecar.md), a thin shell over ``rules_engine.serve``.

Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT, accepted work drained), 1 invalid rules or config
(diagnostics on standard error) or a forced exit on a second signal, 2 usage or the serve extra missing.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from rules_engine.cli.common import EXIT_USAGE
from rules_engine.deliver import Dispatcher


def add_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the sidecar: CloudEvents over HTTP and broker sources, routed to targets",
                       description="Serve the rules over HTTP (CloudEvents binary, structured and batched modes, "
                       "plain JSON) and from the configured broker sources, delivering every decision to its "
                       "targets; the rules reload when their files change (docs/sidecar.md). Needs the serve "
                       'extra: pip install "rules-engine[serve]".')
    p.add_argument("--rules", action="append", required=True, metavar="PATH", help="rule file or folder (repeatable)")
    p.add_argument("--config", metavar="FILE", help="sidecar config (YAML; every option has a default)")
    p.add_argument("--host", metavar="ADDR", help="listen address (overrides listen.host)")
    p.add_argument("--port", type=int, metavar="PORT", help="listen port (overrides listen.port)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    try:  # the server libraries are the optional `serve` extra: imported only by this command
        from rules_engine.serve.server import run_server
    except ImportError as e:
        print(f"rules-engine: error: serve needs the serve extra ({e.name} is not installed): "
              'pip install "rules-engine[serve]"', file=sys.stderr)
        return EXIT_USAGE
    return run_server(args.rules, args.config, lambda targets, observer: Dispatcher(targets, observer=observer),
                      host=args.host, port=args.port)

"""The sidecar: ``rules-engine serve`` (docs/sidecar.md).

Position in the layers (imports point down)::

    cli/ ─▶ **serve/** ─▶ reload/ ─▶ deliver/ ─▶ the public API (RuleSet, Decision, diagnostics)

* :func:`create_app` — the Starlette app: HTTP ingest by the CloudEvents HTTP binding, dry runs, reload,
  probes, metrics; a bounded queue between ingest and dispatch; broker sources as lifespan services;
* :class:`SidecarConfig` / :func:`load_config` — the config file, checked with codes and positions;
* :func:`run_server` (in ``serve.server``) — uvicorn with graceful shutdown.

The server libraries (Starlette, uvicorn, prometheus-client) are the ``serve`` extra; broker clients are
imported only when a source needs them.
"""

from __future__ import annotations

from rules_engine.serve.app import create_app
from rules_engine.serve.config import SidecarConfig, load_config
from rules_engine.serve.metrics import DeliveryObserver, Metrics

__all__ = ["DeliveryObserver", "Metrics", "SidecarConfig", "create_app", "load_config"]

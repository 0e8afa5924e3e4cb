"""The web console of the sidecar: ``/ui``, server-rendered, read-only (docs/console.md).

Position in the pipeline::

    browser ──▶ **console routes** ──▶ LiveRuleSet (status, current) · Metrics · compile.structure_graph
                                    └─▶ sandbox.run_sandbox (a copy of the rules; the live set is never changed)

Pages: Rules (the serving set, every rule in its own syntax, the last reload with its diagnostics), Sandbox
(an event against the rules, optionally with a draft rule file beside them), Structure (the compiled decision
structure as SVG) and Traffic (per rule and per target counts from the same figures as ``/metrics``, the
latest dead letters).  Off unless the sidecar config says ``console: {enabled: true}``.  When the sidecar
has bearer tokens, the console asks for one (the same tokens as the API) and keeps it in an HttpOnly,
SameSite=Strict cookie.  Templates and assets ship in the wheel; nothing is fetched from elsewhere.
"""

from rules_engine.serve.console.views import console_routes

__all__ = ["console_routes"]

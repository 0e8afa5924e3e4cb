"""Routing: from matched rules to decisions (rule, target, payload).

Position in the pipeline::

    matched rules ──router.py──▶ transform.py (rule, then target) ──▶ Decision ──▶ deliver/

``transform.py`` compiles a transform once (its load-time checks are in
``check/transform.py``) from its steps; ``payload.py`` is one application's
state, its copy-on-write writes and the values it reads from the event;
``envelope.py`` the CloudEvents envelope.  ``router.py`` holds ``Decision``,
deduplication, error policies and partition keys.
"""

"""Delivery: decisions reach their targets through adapters (the delivery edge of the pipeline).

Decisions (rule, target, payload) flow one way into adapters.  Each adapter
implements the :class:`~rules_engine.deliver.adapter.Adapter` protocol and is
found through the ``rules_engine.adapters`` entry-point group.
"""

"""The model every stage shares: the IR, sources and spans, the one diagnostic type and its code table, JSON values.

Position: the bottom layer.  It imports nothing else of the package, so every
stage can depend on it and none of it depends on a stage.
"""

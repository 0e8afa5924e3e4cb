"""The ``rules-engine`` command: one module per subcommand, each a thin shell over the public API.

Position: the top layer.  Commands use the façade (``rules_engine.load``,
``rules_engine.loader``, ``rules_engine.ruleset``) and the public functions of
``rules_engine.compile``, never a stage's internals.  A new command is a module
here with ``add_parser(sub)`` and ``run(args, out) -> int``, listed in
:data:`rules_engine.cli.main.COMMANDS`.
"""

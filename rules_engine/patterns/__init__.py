"""The EventBridge dialect: event patterns and input transformers.

Position in the pipeline::

    match: {…} ──lower.py──▶ ir.EventPattern ──evaluate.py──▶ verdict (the reference matcher)
                                          └──▶ compile/ (the fast matcher)

``lower.py`` validates and lowers (AWS's wording in every diagnostic),
``evaluate.py`` is the reference matcher and its explanations, ``operands.py``
the number and IP rules both share, ``api.py`` AWS ``TestEventPattern``
offline, ``input_transformer.py`` EventBridge's input paths and templates.
Validation never imports the evaluator.
"""

"""Adapters that put bonas's proposals inside other tools (optional extras, imported lazily).

- :mod:`bonas.integrations.optuna`: ``BonasSampler``, an Optuna sampler (``pip install bonas[optuna]``).
- :mod:`bonas.integrations.ray_tune`: ``BonasSearch``, a Ray Tune searcher (``pip install bonas[tune]``).

Nothing here is imported by ``import bonas``: each module imports its tool when it is itself imported.
"""

"""Suite-wide settings: hypothesis draws the same examples on every run, so the suite is deterministic."""

from hypothesis import settings

settings.register_profile("bonas", derandomize=True, print_blob=True)
settings.load_profile("bonas")

from . import linear  # noqa: F401  (registers the protocols)

from . import synth_builder  # noqa: F401  (registers the embedded dataset)
from .prepared import Split, ensure_prepared, load_split  # noqa: F401

from . import real, synth_builder  # noqa: F401  (register the datasets)
from .prepared import Split, ensure_prepared, load_split  # noqa: F401

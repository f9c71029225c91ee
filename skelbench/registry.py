"""Name -> object registries for methods, backbones, datasets and protocols.

Code outside the package registers through the ``skelbench.plugins`` entry-point group or a
``--plugin module_or_file.py`` option; both simply import the module, whose ``@register``
decorators do the rest.
"""
from __future__ import annotations

import difflib
import fnmatch
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

ENTRY_POINT_GROUP = "skelbench.plugins"


def did_you_mean(word: str, choices, n: int = 3, quote: bool = False) -> str:
    """'; did you mean a, b?' for the choices closest to ``word``, or '' when none is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=n, cutoff=0.5)
    if not close:
        return ""
    return f"; did you mean {', '.join(repr(c) if quote else c for c in close)}?"


class RegistryError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        def decorator(obj: Any) -> Any:
            if name in self._items:
                raise RegistryError(
                    f"{self.kind} {name!r} is already registered (by {_where(self._items[name])}); "
                    "choose another name")
            self._items[name] = obj
            return obj
        return decorator

    def get(self, name: str) -> Any:
        try:
            return self._items[name]
        except KeyError:
            raise RegistryError(f"unknown {self.kind} {name!r}{did_you_mean(name, self._items)} "
                                f"(known: {', '.join(self.names())})") from None

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._items if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _where(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', obj)}"


METHODS = Registry("method")
BACKBONES = Registry("backbone")
DATASETS = Registry("dataset")
PROTOCOLS = Registry("protocol")
REGISTRIES = {"methods": METHODS, "backbones": BACKBONES, "datasets": DATASETS,
              "protocols": PROTOCOLS}


def load_plugin(spec: str) -> None:
    """Import a plugin given as a dotted module name or a path to a ``.py`` file."""
    path = Path(spec)
    if spec.endswith(".py") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"plugin file {spec!r} does not exist")
        name = f"skelbench_plugin_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    else:
        importlib.import_module(spec)


def load_entry_point_plugins() -> None:
    from importlib.metadata import entry_points
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()

"""What resolving a config needs of the registered methods and backbones (their constructor
arguments, a method's fixed backbone, a backbone's optimiser defaults), without importing torch.

A registered object already imported (a plugin, or the package once torch is loaded) is
inspected directly. The built-in ones are otherwise read from their source with ``ast``: the
``@METHODS.register`` classes of ``skelbench/methods`` (arguments of the nearest ``__init__`` up
the base classes, class attributes) and the ``@BACKBONES.register`` builders of
``skelbench/backbones`` (arguments, literal defaults, ``<builder>.defaults``). So ``compare``
can resolve a reference suite's grid and stay light; a name found in neither is looked up in
the full registries, which then import torch.
"""
from __future__ import annotations

import ast
import inspect
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

from .registry import BACKBONES, METHODS, did_you_mean

PACKAGE = Path(__file__).resolve().parent
# Constructor arguments the harness passes itself.
METHOD_HARNESS_ARGS = {"self", "encoder", "num_classes", "stream"}
BACKBONE_HARNESS_ARGS = {"layout"}


def _registered_name(node, registry: str) -> str | None:
    for d in getattr(node, "decorator_list", []):
        if (isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "register"
                and isinstance(d.func.value, ast.Name) and d.func.value.id == registry and d.args
                and isinstance(d.args[0], ast.Constant)):
            return d.args[0].value
    return None


def _params(fn: ast.FunctionDef) -> dict:
    """Argument names -> literal defaults (``inspect._empty`` where there is none)."""
    args = fn.args.args + fn.args.kwonlyargs
    defaults = [None] * (len(fn.args.args) - len(fn.args.defaults)) + list(fn.args.defaults) \
        + list(fn.args.kw_defaults)
    out = {}
    for arg, default in zip(args, defaults):
        try:
            out[arg.arg] = inspect.Parameter.empty if default is None else ast.literal_eval(default)
        except ValueError:          # a module constant: a method's arguments need names only
            out[arg.arg] = ast.unparse(default)
    return out


@lru_cache
def _source_methods() -> dict:
    classes, registered = {}, {}
    for path in sorted((PACKAGE / "methods").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                init = next((n for n in node.body if isinstance(n, ast.FunctionDef)
                             and n.name == "__init__"), None)
                attrs = {t.id: ast.literal_eval(n.value) for n in node.body
                         if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
                         for t in n.targets if isinstance(t, ast.Name)}
                bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
                classes[node.name] = (bases, _params(init) if init else None, attrs)
                if (name := _registered_name(node, "METHODS")):
                    registered[name] = node.name
    out = {}
    for name, cls in registered.items():
        params, attrs, chain = None, {}, cls
        while chain in classes:
            bases, own, own_attrs = classes[chain]
            attrs = {**own_attrs, **attrs}
            if params is None:
                params = own
            chain = bases[0] if bases else None
        out[name] = SimpleNamespace(args=set(params or {}) - METHOD_HARNESS_ARGS,
                                    backbone=attrs.get("backbone"))
    return out


@lru_cache
def _source_backbones() -> dict:
    out, constants, defaults = {}, {}, {}
    for path in sorted((PACKAGE / "backbones").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    value = node.value
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        constants[target.id] = value
                    elif isinstance(target, ast.Attribute) and target.attr == "defaults":
                        defaults[target.value.id] = value
            name = _registered_name(node, "BACKBONES")
            if name is None:
                continue
            if isinstance(node, ast.ClassDef):
                node = next((n for n in node.body if isinstance(n, ast.FunctionDef)
                             and n.name == "__init__"), None)
            params = _params(node) if node else {}
            out[name] = SimpleNamespace(fn=getattr(node, "name", None), params={
                k: v for k, v in params.items() if k not in BACKBONE_HARNESS_ARGS | {"self"}})
    for spec in out.values():
        value = defaults.get(spec.fn, {})
        spec.defaults = constants.get(value.id, {}) if isinstance(value, ast.Name) else value
    return out


def _full(registry, package: str):
    """The real registry, the package imported (torch with it)."""
    import importlib
    importlib.import_module(f"skelbench.{package}")
    return registry


def method(name: str) -> SimpleNamespace:
    """``args``: the constructor arguments a recipe may set; ``backbone``: a fixed backbone."""
    if name not in METHODS and name in _source_methods():
        return _source_methods()[name]
    cls = _full(METHODS, "methods").get(name)
    return SimpleNamespace(args=set(inspect.signature(cls.__init__).parameters) - METHOD_HARNESS_ARGS,
                           backbone=getattr(cls, "backbone", None))


def _backbone(name: str) -> SimpleNamespace:
    if name not in BACKBONES and name in _source_backbones():
        return _source_backbones()[name]
    builder = _full(BACKBONES, "backbones").get(name)
    return SimpleNamespace(params={k: p.default for k, p in inspect.signature(builder).parameters.items()
                                   if k not in BACKBONE_HARNESS_ARGS},
                           defaults=getattr(builder, "defaults", {}))


def backbone_defaults(name: str) -> dict:
    """Config sections a backbone sets over the method recipe (empty for ST-GCN)."""
    return _backbone(name).defaults


def backbone_parameters(name: str) -> dict:
    """The builder's keyword arguments (those a recipe may set) and their defaults."""
    return dict(_backbone(name).params)


def backbone_args(spec: dict) -> dict:
    """Validate ``{name, **kwargs}`` against the registered builder; return the kwargs."""
    accepted = set(backbone_parameters(spec["name"]))
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    for key in kwargs:
        if key not in accepted:
            raise ValueError(f"backbone {spec['name']!r} takes no argument {key!r}"
                             f"{did_you_mean(key, accepted, n=1, quote=True)}")
    return kwargs

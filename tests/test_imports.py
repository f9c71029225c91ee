"""No import circle inside skelbench: the graph of its own imports (function-level imports
included) has no cycle, and every module imports first in a fresh interpreter."""
import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "skelbench"


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: dict) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rsplit(".", 1)[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            for alias in node.names:     # `from . import linear` names a module
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {f for f in found if f in known and f != name}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(v):
        state[v] = "open"
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == "open":
                return stack[stack.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        state[v] = "done"
        stack.pop()
        return None
    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_the_import_graph_has_no_cycle():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert graph["skelbench.config"] <= {"skelbench.errors", "skelbench.registry",
                                         "skelbench.defaults", "skelbench.methods",
                                         "skelbench.backbones", "skelbench.skeleton",
                                         "skelbench.signatures"}
    assert cycle(graph) is None, " -> ".join(cycle(graph))
    # The check finds one when there is one.
    assert cycle({**graph, "skelbench.defaults": {"skelbench.config"}}) is not None


def test_every_module_imports_on_its_own():
    names = sorted(n for n in modules() if n != "skelbench.__main__")   # that one runs the CLI
    # The modules the light commands use import on their own without torch, one interpreter each.
    for name in ("config", "defaults", "errors", "registry", "results", "leaderboard", "suite",
                 "skeleton", "report", "signatures", "stats"):
        r = subprocess.run([sys.executable, "-c", f"import sys, skelbench.{name}; "
                            "assert 'torch' not in sys.modules, 'imports torch'"],
                           capture_output=True, text=True)
        assert r.returncode == 0, (name, r.stderr[-500:])
    r = subprocess.run([sys.executable, "-c", "; ".join(f"import {n}" for n in names)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-800:]


def test_the_light_signatures_agree_with_the_registered_classes():
    """What `compare` reads from the source (skelbench.signatures, no torch) is what the
    imported methods and backbones take."""
    import inspect

    import skelbench.backbones  # noqa: F401
    import skelbench.methods  # noqa: F401
    from skelbench import signatures as S
    from skelbench.registry import BACKBONES, METHODS
    light_methods, light_backbones = S._source_methods(), S._source_backbones()
    # (other tests may have registered plugins: the package's own entries are compared)
    own = [n for n in METHODS.names() if METHODS.get(n).__module__.startswith("skelbench.")]
    assert set(light_methods) == set(own)
    assert set(light_backbones) == {n for n in BACKBONES.names()
                                    if BACKBONES.get(n).__module__.startswith("skelbench.")}
    for name in own:
        cls = METHODS.get(name)
        assert light_methods[name].args == set(inspect.signature(cls.__init__).parameters) \
            - S.METHOD_HARNESS_ARGS, name
        assert light_methods[name].backbone == getattr(cls, "backbone", None), name
    for name in light_backbones:
        builder = BACKBONES.get(name)
        assert light_backbones[name].params == {
            k: p.default for k, p in inspect.signature(builder).parameters.items()
            if k not in S.BACKBONE_HARNESS_ARGS}, name
        assert light_backbones[name].defaults == getattr(builder, "defaults", {}), name

"""The architecture holds: no lower layer imports a higher one, and no import circle.

ARCHITECTURE.md draws the layers; this test reads every module's imports (top-level and
inside functions alike: a lazy import is still a dependency) with ``ast`` and checks them, so
a change that breaks the map fails here with the offending import named.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import mediaserve

PACKAGE = Path(mediaserve.__file__).parent

#: Layer of each top-level part of the package (ARCHITECTURE.md, "Layers").
LAYERS: dict[str, int] = {
    "http": 1,
    "policy": 2,
    "access": 2,
    "ratelimit": 2,
    "sources": 2,
    "uploads": 2,
    "renditions": 2,
    "pipeline": 3,
    "delivery": 4,
    "django": 5,
    "proxyconf": 5,
    "doctor": 5,
    "sync": 5,
    "cli": 6,
}
#: Modules that belong to the command line although they live beside their feature.
CLI_MODULES = ("proxyconf.cli", "doctor.cli", "sync.cli", "django.management")
#: The package root: the public API, ``python -m mediaserve`` and the 0.1 validators alias.
TOP = 7
#: The only root-level modules besides ``__init__``.
ROOT_MODULES = {"__init__.py", "__main__.py", "validators.py"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    inner = module.split(".", 1)[1] if "." in module else ""
    if not inner or inner in ("__main__", "validators"):
        return TOP
    if any(inner == m or inner.startswith(m + ".") for m in CLI_MODULES):
        return LAYERS["cli"]
    return LAYERS[inner.split(".", 1)[0]]


def imports_of(module: str) -> Iterator[tuple[str, int]]:
    """(imported mediaserve module, line) for every import statement in ``module``."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "mediaserve":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "mediaserve":
                continue
            for alias in node.names:
                # "from .checks import core" imports the submodule core.
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    yield sub, node.lineno
                elif target == "mediaserve" and alias.name == "__version__":
                    continue  # the version string: reading it is not depending on the API
                else:
                    yield target, node.lineno


def test_the_layer_map_names_every_part_of_the_package() -> None:
    parts = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert parts <= set(LAYERS), f"not in the layer map: {sorted(parts - set(LAYERS))}"
    loose = {p.name for p in PACKAGE.glob("*.py")}
    assert loose == ROOT_MODULES, "a new module at the package root: give it a subpackage"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_higher_layer(module: str) -> None:
    mine = layer_of(module)
    upward = [
        f"line {line}: {target} (layer {layer_of(target)})"
        for target, line in imports_of(module)
        if target in MODULES and layer_of(target) > mine
    ]
    assert not upward, f"{module} (layer {mine}) imports a higher layer: {upward}"


def circles_in(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph`` (its strongly connected components of 2 or more)."""
    # Tarjan's strongly connected components, iteratively (the graph has ~100 nodes).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = 0

    def connect(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        circles.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for module in sorted(graph):
        if module not in index:
            connect(module)
    return circles


def test_there_is_no_import_circle() -> None:
    graph = {m: {t for t, _ in imports_of(m) if t in MODULES and t != m} for m in MODULES}
    assert circles_in(graph) == []


def test_the_checker_sees_a_circle_and_an_upward_import() -> None:
    """The control: the reading of imports finds what the two tests above forbid."""
    views = dict(imports_of("mediaserve.django.views"))
    assert "mediaserve.pipeline.decide" in views
    assert layer_of("mediaserve.http.plan") < layer_of("mediaserve.django.views")
    assert layer_of("mediaserve.proxyconf.cli") == LAYERS["cli"]
    toy = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles_in(toy) == [["a", "b", "c"]]

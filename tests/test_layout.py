"""The package's modules depend on each other without cycles.

Data -> estimator -> diagnostics -> command line and docs, never backwards: a
module may import another only if that one does not (directly or through
others) import it back. Imports inside functions count too, since a deferred
import is still a dependency.
"""

import ast
from pathlib import Path

import qwertyclf

PACKAGE = Path(qwertyclf.__file__).parent


def _module_name(path: Path) -> str:
    parts = ["qwertyclf", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """The package modules that the module `name` at `path` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            # `from pkg import module` depends on the module; `from pkg import
            # name` on the package.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in modules)
    # A module's own packages are imported before it in any case.
    ancestors = {name.rsplit(".", i)[0] for i in range(name.count(".") + 1)}
    return found - ancestors


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path, name, set(paths)) for name, path in paths.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_graph_sees_known_edges():
    graph = import_graph()
    assert "qwertyclf.training" in graph["qwertyclf._classifier"]
    assert "qwertyclf._module" in graph["qwertyclf.training._backprop"]


def test_cycle_detection_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]
    ]


def test_no_import_cycles():
    graph = import_graph()
    # The package's own __init__ only re-exports; submodules must not import it.
    cycles = _cycles(graph)
    assert cycles == [], f"modules importing each other: {cycles}"


def test_persistence_sits_below_the_estimator():
    graph = import_graph()
    assert "qwertyclf._classifier" not in graph["qwertyclf._persistence"]


def test_every_activation_list_is_the_registry():
    # The registry decides; the docstrings (which the command line and the
    # docs read) must list exactly its names.
    from qwertyclf import QwertyClassifier, QwertyNet
    from qwertyclf._activations import ACTIVATIONS
    from qwertyclf._module import ACTIVATIONS as MODULE_ACTIVATIONS
    from qwertyclf.cli import build_parser

    names = list(ACTIVATIONS)
    assert list(MODULE_ACTIVATIONS) == names
    fit = build_parser()._subparsers._group_actions[0].choices["fit"]
    (option,) = [a for a in fit._actions if a.dest == "activation"]
    assert list(option.choices) == names
    for doc in (QwertyClassifier.__doc__, QwertyNet.__doc__):
        listed = doc.split("activation : str")[1].split(" : ")[0]
        assert [n for n in names if f'"{n}"' in listed] == names


#: What the training engine may import from the rest of the package: the
#: network, its embeddings and activations, the label encoder and the interrupt
#: rule, the layers below it.
ENGINE_MAY_IMPORT = {
    "qwertyclf._module",
    "qwertyclf._embeddings",
    "qwertyclf._activations",
    "qwertyclf._labels",
    "qwertyclf._interrupts",
}


def _engine_violations(graph):
    return {
        (module, target)
        for module, targets in graph.items()
        if module == "qwertyclf.training" or module.startswith("qwertyclf.training.")
        for target in targets
        if not target.startswith("qwertyclf.training")
        and target not in ENGINE_MAY_IMPORT
    }


def test_the_engine_imports_no_estimator():
    assert _engine_violations(import_graph()) == set()


def test_the_engine_rule_sees_a_reach_up():
    graph = {"qwertyclf.training._batched": {"qwertyclf._classifier"}}
    assert _engine_violations(graph) == {
        ("qwertyclf.training._batched", "qwertyclf._classifier")
    }


def _private_reaches(path: Path) -> list[str]:
    """`from <engine private module> import ...` or underscore names of the engine."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module or ""
        parts = module.split(".")
        if "training" not in parts:
            continue
        after = parts[parts.index("training") + 1 :]
        names = [alias.name for alias in node.names]
        if any(p.startswith("_") for p in after) or any(
            n.startswith("_") for n in names
        ):
            found.append(f"{path.name}: from {module} import {', '.join(names)}")
    return found


def test_the_estimators_use_only_the_engines_public_interface():
    outside = [
        p
        for p in PACKAGE.rglob("*.py")
        if "training" not in p.relative_to(PACKAGE).parts
    ]
    reaches = [line for p in outside for line in _private_reaches(p)]
    assert reaches == []


def test_the_architecture_page_names_every_part():
    # docs/architecture.md is the map for contributors: a new top-level module
    # or package must appear on it.
    page = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text()
    parts = {
        p.stem if p.suffix else p.name
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.stem not in {"__init__", "__main__"})
        or (p.is_dir() and (p / "__init__.py").exists())
    }
    missing = sorted(part for part in parts if f"{part}`" not in page)
    assert missing == [], f"not on docs/architecture.md: {missing}"


#: The estimator classes whose underscore members are theirs alone.
ESTIMATORS = {
    "QwertyClassifier": "_classifier.py",
    "QwertyClassifierCV": "_cv.py",
    "QwertyEnsembleClassifier": "_ensemble.py",
}


def _estimator_private_names() -> dict[str, str]:
    """Underscore (not dunder) names defined in the estimator classes' bodies.

    Maps each name to the file of the class that defines it.
    """
    names = {}
    for cls, file in ESTIMATORS.items():
        tree = ast.parse((PACKAGE / file).read_text())
        (body,) = [
            n.body for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls
        ]
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found = [node.name]
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = (
                    node.targets if isinstance(node, ast.Assign) else [node.target]
                )
                found = [t.id for t in targets if isinstance(t, ast.Name)]
            else:
                continue
            for name in found:
                if name.startswith("_") and not name.endswith("__"):
                    names[name] = file
    return names


def _module_aliases(tree: ast.Module) -> set[str]:
    """Names an `import` binds to a module (`import torch`, `from . import x`)."""
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.module:
            aliases.update(a.asname or a.name for a in node.names)
    return aliases


def _estimator_reaches(
    path: Path, source: str, names: dict[str, str]
) -> list[tuple[str, str]]:
    """Accesses `x._name` of an estimator's underscore member, `x` not self.

    Calls or not (`model._sample_weight(...)`, `clf._encoder`), outside the
    module that defines the member; `self`, `cls` and module aliases are
    exempt.
    """
    tree = ast.parse(source)
    aliases = _module_aliases(tree) | {"self", "cls"}
    where = path.relative_to(PACKAGE).as_posix()
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or node.attr not in names:
            continue
        if names[node.attr] == where:
            continue  # the class's own module
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in aliases:
            continue
        found.append((where, f"{ast.unparse(owner)}.{node.attr}"))
    return found


def test_no_module_reaches_into_an_estimators_private_members():
    # CV, the ensemble, the searches and the batched runs go through the
    # estimator layer's public functions (check_params, fit_spec, restore,
    # input_encoder) and the engine's (fit_rows, check_n_classes): a change
    # to a private method of an estimator cannot silently change them.
    names = _estimator_private_names()
    reaches = [
        f"{where}: {access}"
        for path in PACKAGE.rglob("*.py")
        for where, access in _estimator_reaches(path, path.read_text(), names)
    ]
    assert reaches == []


def test_the_private_member_rule_sees_calls_and_attributes():
    names = _estimator_private_names()
    assert {"_check_params", "_encoder", "_seed"} <= set(names)
    source = (
        "import torch\n"
        "def f(model, clf):\n"
        "    w = model._sample_weight(X, y, None)\n"
        "    g = clf._encoder\n"
        "    torch._foreach_add_([], 1)\n"
        "    return self._check_params()\n"
    )
    path = PACKAGE / "_batched.py"
    reaches = _estimator_reaches(path, source, {**names, "_sample_weight": "x.py"})
    assert sorted(reaches) == [
        ("_batched.py", "clf._encoder"),
        ("_batched.py", "model._sample_weight"),
    ]


def _private_imports(path: Path, source: str) -> list[str]:
    """`from <estimator module> import _name` in `path`, outside that module."""
    where = path.relative_to(PACKAGE).as_posix()
    modules = {file.removesuffix(".py") for file in ESTIMATORS.values()}
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        module = node.module.rpartition(".")[2]
        if module not in modules or f"{module}.py" == where:
            continue
        found += [
            f"{where}: {module}.{alias.name}"
            for alias in node.names
            if alias.name.startswith("_")
        ]
    return found


def test_no_module_imports_an_estimator_modules_private_names():
    # What the batched runs, CV and the searches need from the estimator
    # module is its public interface; shared helpers live in the engine.
    imports = [
        found
        for path in PACKAGE.rglob("*.py")
        for found in _private_imports(path, path.read_text())
    ]
    assert imports == []


def test_the_private_import_rule_sees_an_import():
    source = "from ._classifier import QwertyClassifier, _to_tensor\n"
    assert _private_imports(PACKAGE / "_cv.py", source) == [
        "_cv.py: _classifier._to_tensor"
    ]

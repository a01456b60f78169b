"""The package's structure: no import circles; every tuning knob in config, noted."""

import ast
import inspect
import pathlib

import fastconv
from fastconv._engine import config

PACKAGE = pathlib.Path(fastconv.__file__).parent
ENGINE = ("fastconv._engine", "fastconv._kernels")


def _modules():
    """Return {dotted module name: path} for every module of the package."""
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _imported(mod, node, mods):
    """Return the package modules an import statement of `mod` names."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = mod.split(".")
        if node.level:
            if mods[mod].name != "__init__.py":
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        # an alias that is a module is that module; else an attribute of prefix
        names = [
            f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in mods else prefix
            for a in node.names
        ]
    found = set()
    for name in names:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        if name and name != mod:
            found.add(name)
    return found


def import_graph():
    """Return {module: modules it imports}, lazy (in-function) imports included.

    ``from . import x`` counts as importing module x (the package is
    already loaded); ``from .pkg import y`` as importing ``pkg``'s
    ``__init__`` when y is not a module.
    """
    mods = _modules()
    graph = {}
    for mod, path in mods.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps |= _imported(mod, node, mods)
        graph[mod] = {d for d in deps if d.startswith("fastconv")}
    return graph


def circles(graph):
    """Return the strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_circles():
    graph = import_graph()
    assert "fastconv._engine.plan" in graph  # the walk found the package
    assert "fastconv._engine.config" in graph["fastconv._engine.plan"]
    assert circles(graph) == []


def test_the_engine_and_kernels_import_no_consumer():
    """_engine and _kernels sit below the public modules, nn, compat, dask and tools."""
    above = ("fastconv.nn", "fastconv.compat", "fastconv.dask", "fastconv.tools")
    for mod, deps in import_graph().items():
        if mod.startswith(ENGINE):
            bad = [
                d
                for d in deps
                if d.startswith(above) or (d.count(".") == 1 and d not in ENGINE)
            ]
            assert not bad, f"{mod} imports {bad}"


CONSUMERS = ("fastconv.nn", "fastconv.compat", "fastconv.tools", "fastconv.dask")
# (consumer, private module) pairs kept on purpose, each with its reason;
# none so far: every consumer reaches the engine through fastconv's __all__
PRIVATE_IMPORTS_ALLOWED = set()


def _private_imports(graph):
    """Return [(consumer, private module)] of the consumers' imports of ENGINE."""
    return sorted(
        (mod, dep)
        for mod, deps in graph.items()
        if mod.startswith(CONSUMERS)
        for dep in deps
        if dep.startswith(ENGINE) and (mod, dep) not in PRIVATE_IMPORTS_ALLOWED
    )


def test_the_private_import_finder_finds_one():
    graph = {
        "fastconv.tools.profile": {"fastconv", "fastconv._engine.trace"},
        "fastconv.nn.layers": {"fastconv._kernels.pool"},
        "fastconv.dask._ops": {"fastconv._engine.plan"},
        "fastconv.pool": {"fastconv._engine.plan"},  # the public layer may
    }
    assert _private_imports(graph) == [
        ("fastconv.dask._ops", "fastconv._engine.plan"),
        ("fastconv.nn.layers", "fastconv._kernels.pool"),
        ("fastconv.tools.profile", "fastconv._engine.trace"),
    ]


def test_consumers_use_the_public_api_only():
    """nn, compat, tools and dask import fastconv's public names, never the engine's."""
    graph = import_graph()
    for package in CONSUMERS:  # the walk found every consumer's modules
        assert any(mod.startswith(package + ".") for mod in graph), package
    assert "fastconv" in graph["fastconv.tools.bench_worker"]  # a lazy import, found
    assert _private_imports(graph) == []


def _knobs():
    """Return [(name, the #: note above it)] of config's module-level constants."""
    source = pathlib.Path(config.__file__).read_text()
    lines = source.splitlines()
    knobs = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and node.targets[0].id.isupper():
            note, i = [], node.lineno - 2
            while i >= 0 and lines[i].startswith("#:"):
                note.insert(0, lines[i][2:].strip())
                i -= 1
            knobs.append((node.targets[0].id, " ".join(note)))
    return knobs


def test_every_knob_in_config_says_what_set_it():
    knobs = _knobs()
    assert len(knobs) >= 20
    for name, note in knobs:
        # a sentence or more: the measurement, or why none was needed
        assert len(note.split()) >= 8, f"config.{name} has no note: {note!r}"
        assert isinstance(getattr(config, name), (int, float, dict))


def _is_number(node):
    """Whether an expression is a number or arithmetic on numbers (1 << 20)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.BinOp):
        return _is_number(node.left) and _is_number(node.right)
    return False


def test_no_module_but_config_defines_a_size_threshold():
    """Byte and size thresholds (NAME = <number>) live in config only."""
    allowed = {
        # compiled into the kernels (config's last section says why)
        ("fastconv._kernels.depth", "BLOCK"),
        ("fastconv._kernels.direct", "FILTER_BLOCK"),
        ("fastconv._kernels.adaptive", "_VECTOR"),
        # not tuning: the public default re-exported, the result buffers'
        # ring depth and reference count, a bound on ints, a cache line
        ("fastconv._engine.workspace", "DEFAULT_WORKSPACE_LIMIT"),
        ("fastconv.nn._buffers", "DEPTH"),
        ("fastconv.nn._buffers", "_OWN_REFS"),
        ("fastconv._engine.geometry", "MAX_INT"),
        ("fastconv._engine.workspace", "_ALIGN"),
    }
    for mod, path in _modules().items():
        if mod == "fastconv._engine.config" or mod.startswith("fastconv.tools"):
            continue
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.Assign) or len(node.targets) != 1:
                continue
            target = node.targets[0]
            if not isinstance(target, ast.Name) or not target.id.isupper():
                continue
            if _is_number(node.value):
                assert (mod, target.id) in allowed, f"{mod}.{target.id} belongs in config"


def _unannotated(fn):
    """Return the parameters (and 'return') of `fn` that carry no annotation."""
    sig = inspect.signature(fn)
    missing = [
        name
        for name, p in sig.parameters.items()
        if p.annotation is inspect.Parameter.empty and name != "self"
    ]
    if sig.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


def test_every_public_function_is_annotated():
    """The typed surface: every function of fastconv.__all__, its methods too."""
    lazy = {"naive", "compat", "nn", "check"}
    checked = 0
    for name in fastconv.__all__:
        if name in lazy:
            continue
        obj = getattr(fastconv, name)
        if inspect.isfunction(obj):
            assert not _unannotated(obj), f"fastconv.{name}: {_unannotated(obj)}"
            checked += 1
        elif inspect.isclass(obj) and obj.__module__.startswith("fastconv"):
            for meth in ("forward", "backward", "prepare_weight"):
                if hasattr(obj, meth):
                    bad = _unannotated(getattr(obj, meth))
                    assert not bad, f"fastconv.{name}.{meth}: {bad}"
    assert checked >= 50
    assert (PACKAGE / "py.typed").exists()


def test_every_public_layer_and_dask_function_is_annotated():
    from fastconv import dask as fd
    from fastconv import nn

    for name in nn.__all__:
        obj = getattr(nn, name)
        methods = (
            [obj]
            if inspect.isfunction(obj)
            else [
                getattr(obj, m)
                for m in (
                    "__init__",
                    "__call__",
                    "forward",
                    "backward",
                    "parameters",
                    "step",
                )
                if m in vars(obj)
            ]
        )
        for fn in methods:
            assert not _unannotated(fn), f"nn.{name}.{fn.__name__}: {_unannotated(fn)}"
    for name in fd.__all__:
        obj = getattr(fd, name)
        if inspect.isfunction(obj):
            assert not _unannotated(obj), f"fastconv.dask.{name}: {_unannotated(obj)}"

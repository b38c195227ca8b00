"""The registry: every technique, converter, judge, suite, backend, world, model, persona, template, opener and
dataset loader that configs can name.

Nothing changes the registry's tables during a run: what one run adds (a world's own templates and openers, the
PyRIT templates a config names) goes into a run-local view (:func:`run_local`), seen by that run's look-ups only
and gone when it ends.

Built-ins register themselves when their package is imported; the registry imports those packages by name the
first time a name is looked up, and then every plug-in of the entry-point group ``breakfix.plugins`` (an entry point
names a module, whose import registers its parts, or a callable, which is called). The demo is such a plug-in: it
registers the world ``demo``, the model ``demo`` and the judge ``demo``.

A third-party package adds a technique with one file::

    from breakfix.registry import technique
    from breakfix.engine import Technique

    @technique("shout")
    class Shout(Technique):
        def plan(self, seed, technique, arg, seed_value):
            return Plan(technique, seed, (seed.text.upper(),))

and one line in its ``pyproject.toml``: ``[project.entry-points."breakfix.plugins"] mine = "my_package.attacks"``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, TypeVar

KINDS = (
    "technique", "converter", "judge", "suite", "backend", "world", "model", "persona", "template", "opener", "loader"
)  # fmt: skip
# a loader's name is <what it loads>/<format>: seeds/harmbench, templates/pyrit, capability/mc
LOADER_FAMILIES = ("seeds", "templates", "capability")
GROUP = "breakfix.plugins"
# imported by name (not statically: the registry sits below the stages that register into it)
BUILTIN_PACKAGES = (
    "breakfix.attacks", "breakfix.judges", "breakfix.suites", "breakfix.backends", "breakfix.worlds", "breakfix.seeds"
)  # fmt: skip

T = TypeVar("T")
_INSTANCES = ("technique", "suite")  # a decorated class of these kinds is registered as its one instance


class UnknownName(ValueError):
    """A config or command names something nobody registered."""


@dataclass
class Entry:
    """One registered thing: its kind and name, the object, where it came from, and kind-specific facts."""

    kind: str
    name: str
    obj: Any
    origin: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The first line of the object's docstring."""
        doc = (self.meta.get("help") or getattr(self.obj, "__doc__", None) or "").strip()
        return doc.splitlines()[0] if doc else ""


_entries: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
_failed: list[tuple[str, str]] = []  # (plug-in, why it did not load)
_origin = ["breakfix"]
_state = {"loaded": False}
_lock = threading.RLock()
_local: ContextVar[dict[str, dict[str, Entry]] | None] = ContextVar("breakfix_registry_local", default=None)
LOCAL_KINDS = ("template", "opener")  # what a run may add to its own view


@contextmanager
def _from(origin: str) -> Iterator[None]:
    _origin.append(origin)
    try:
        yield
    finally:
        _origin.pop()


def register(kind: str, name: str, obj: Any, **meta: Any) -> Any:
    """Register ``obj`` as the ``kind`` called ``name``; a second registration of a name from elsewhere is an
    error (a plug-in never silently replaces a built-in)."""
    if kind not in KINDS:
        raise ValueError(f"unknown registry kind {kind!r}; known: {', '.join(KINDS)}")
    if not name or ":" in name or name != name.strip():
        raise ValueError(f"bad {kind} name {name!r}")
    origin = _origin[-1]
    with _lock:
        old = _entries[kind].get(name)
        if old is not None and old.obj is not obj and old.origin != origin:
            raise ValueError(f"{kind} {name!r} of {origin} is already registered by {old.origin}")
        _entries[kind][name] = Entry(kind, name, obj, origin, meta)
    return obj


def _decorator(kind: str) -> Callable[..., Callable[[T], T]]:
    def deco(name: str, **meta: Any) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            if isinstance(obj, type) and kind in _INSTANCES:
                inst = obj()
                inst.name = name
                register(kind, name, inst, **meta)
            else:
                register(kind, name, obj, **meta)
            return obj

        return wrap

    deco.__name__ = kind
    deco.__doc__ = f"Register the decorated object as the {kind} called ``name``."
    return deco


technique = _decorator("technique")  # a Technique subclass (instantiated once)
judge = _decorator("judge")  # a factory: (model backend or None, rubric) -> Judge; meta needs_model, audit
suite = _decorator("suite")  # a Suite subclass (instantiated once)
backend = _decorator("backend")  # a factory: (ModelRef, seed) -> Backend
world = _decorator("world")  # a factory: (seed) -> World
model = _decorator("model")  # a builder: () -> model dir; meta judge, world, refusals
persona = _decorator("persona")  # (converter_model: bool, attacker: bool) -> technique names
template = _decorator("template")  # an attacks.templates.Template (register(...) takes an instance)
opener = _decorator("opener")  # an opening turn (str) for the technique opener:<name>
loader = _decorator("loader")  # <family>/<format>: fn(source, split) -> rows; meta help
converter = _decorator("converter")  # fn(text, rng, *args) -> str; with llm=True: async fn(text, rng, llm, *args)


def load() -> None:
    """Import the built-ins and every ``breakfix.plugins`` entry point (once per process)."""
    with _lock:
        if _state["loaded"]:
            return
        _state["loaded"] = True
        for pkg in BUILTIN_PACKAGES:
            importlib.import_module(pkg)
        for ep in sorted(entry_points(group=GROUP), key=lambda e: (e.dist.name if e.dist else "", e.name)):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "?"
            origin = f"plug-in {ep.name} ({dist}: {ep.value})"
            try:
                with _from(origin):
                    obj = ep.load()
                    if callable(obj) and not isinstance(obj, type):
                        obj()
            except Exception as e:  # a broken plug-in is reported by `breakfix plugins` and by failed look-ups
                _failed.append((origin, f"{e.__class__.__name__}: {e}"))


def get(kind: str, name: str) -> Entry:
    """The entry of ``kind`` called ``name``; ``UnknownName`` lists the known ones."""
    found = find(kind, name)
    if found is None:
        known = ", ".join(names(kind))
        broken = f"; plug-ins that failed to load: {'; '.join(o for o, _ in _failed)}" if _failed else ""
        raise UnknownName(f"unknown {kind} {name!r}; known: {known or 'none'}{broken}")
    return found


def find(kind: str, name: str) -> Entry | None:
    """The entry of ``kind`` called ``name`` (the run-local view's first, see :func:`run_local`), or None."""
    load()
    local = _local.get()
    found = local.get(kind, {}).get(name) if local else None
    return found if found is not None else _entries[kind].get(name)


def _all(kind: str) -> dict[str, Entry]:
    local = _local.get()
    return {**_entries[kind], **(local.get(kind, {}) if local else {})}


def names(kind: str, hidden: bool = False) -> list[str]:
    """The registered names of ``kind`` (with the run-local view's), sorted."""
    load()
    return sorted(n for n, e in _all(kind).items() if hidden or not e.meta.get("hidden"))


@contextmanager
def run_local() -> Iterator[None]:
    """A run-local view for the block: :func:`add_local` adds to it, look-ups in the block (and in the tasks and
    contexts it starts) see it, and it is gone afterwards. The registry's own tables are never changed by a run."""
    outer = _local.get()
    token = _local.set({k: dict(v) for k, v in (outer or {}).items()})
    try:
        yield
    finally:
        _local.reset(token)


def in_run() -> bool:
    """Whether a run-local view is open (:func:`run_local`)."""
    return _local.get() is not None


def add_local(kind: str, name: str, obj: Any, origin: str, **meta: Any) -> None:
    """Add ``obj`` as the ``kind`` called ``name`` to the run-local view (a registered name keeps its entry: a run's
    file never replaces a built-in). Outside :func:`run_local` it is an error."""
    local = _local.get()
    if local is None:
        raise RuntimeError("add_local outside registry.run_local()")
    if kind not in LOCAL_KINDS:
        raise ValueError(f"a run adds only {', '.join(LOCAL_KINDS)} to its view, not {kind}")
    load()
    if name not in _entries[kind]:
        local.setdefault(kind, {}).setdefault(name, Entry(kind, name, obj, origin, meta))


def loaders(family: str) -> dict[str, Entry]:
    """The dataset loaders of ``family`` (``seeds``, ``templates``, ``capability``) by format name."""
    load()
    prefix = f"{family}/"
    return {n.removeprefix(prefix): e for n, e in sorted(_entries["loader"].items()) if n.startswith(prefix)}


def entries() -> list[Entry]:
    """Everything registered, by kind and name."""
    load()
    return [e for k in KINDS for _, e in sorted(_entries[k].items())]


class View(Mapping[str, Any]):
    """A read-only mapping of the registered ``kind`` objects by name, those whose ``meta`` matches ``match``: what a
    module offers as a table of its kind (``attacks.converters.CONVERTERS``) is this view, never a dict of its own, so
    every name is registered once, with its origin, and nothing changes the tables behind the registry's back."""

    def __init__(self, kind: str, **match: Any) -> None:
        self.kind, self.match = kind, match  # the run-local view's entries are in it too (see run_local)

    def _keeps(self, e: Entry) -> bool:
        return all(bool(e.meta.get(k)) == bool(v) for k, v in self.match.items())

    def __getitem__(self, name: str) -> Any:
        e = find(self.kind, name)
        if e is None or not self._keeps(e):
            raise KeyError(name)
        return e.obj

    def __iter__(self) -> Iterator[str]:
        load()
        return iter(sorted(n for n, e in _all(self.kind).items() if self._keeps(e)))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def failures() -> list[tuple[str, str]]:
    """Plug-ins that failed to load, with the reason."""
    load()
    return list(_failed)


# ---- checks that configs run on names (here, below config: they read only the tables) --------------------------
def require(kind: str, name: str) -> str:
    """``name`` when a ``kind`` of that name is registered; else a ValueError listing the known ones."""
    try:
        get(kind, name)
    except UnknownName as e:
        raise ValueError(str(e)) from None
    return name


def check_technique(name: str) -> set[str]:
    """Raise ValueError when ``name`` (``family`` or ``family:arg``) is not a usable technique; else return the
    helper models its plans need (``attacker``, ``converter_model``)."""
    head, _, arg = name.partition(":")
    tech = get("technique", require("technique", head)).obj
    tech.check(head, arg)
    return set(tech.needs(arg))


def judge_needs_model(name: str) -> bool:
    """Whether the registered judge ``name`` runs on a judge model (its ``needs_model``; model judges by default)."""
    return bool(get("judge", name).meta.get("needs_model", True))

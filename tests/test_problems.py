"""Named problems: one definition each (services.common.errors and each domain's `errors.py`),
used both to raise and to declare, so every route's OpenAPI lists exactly what it can answer.

- Every problem a route can raise is declared in its responses: the route's code is walked from
  its endpoint and its dependencies through every function, method and class of the project it
  names (statically: names bound to modules, functions, classes and annotated variables), and each
  named problem met on the way must be in the route's OpenAPI, under its status, in
  `x-problem-codes`. The kit's own answers (services.common.openapi) count as declared.
- No code builds a problem from a bare status and code: outside the errors modules every problem
  is a named one.
- Codes are unique: one status and one title per code, in the definitions and in every document.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import pathlib
import textwrap
import types
from collections import defaultdict
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

import gateway.errors
import services.finance.errors
import services.registry.errors
import services.standards.errors
from gateway.openapi import merge
from services.common.errors import (
    PROBLEM_CODES,
    PROBLEM_JSON,
    AmbiguousProblem,
    NamedProblem,
    Problem,
    defined_problems,
)
from tests.support import create_gateway

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROJECT = ("services.", "gateway.")
ERRORS_MODULES = (
    services.registry.errors,
    services.finance.errors,
    services.standards.errors,
    gateway.errors,
)
# Accesses that use a problem without answering it: a body embedded in a resource, an example.
NOT_RAISED = {"body", "example"}


def _project(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").startswith(PROJECT)


def _problems_in(obj: Any) -> list[NamedProblem]:
    """The named problems a value stands for (one, a group of them, or a class that is one)."""
    if isinstance(obj, NamedProblem):
        return [obj]
    if isinstance(obj, tuple | list | set | frozenset):
        return [p for p in obj if isinstance(p, NamedProblem)]
    if isinstance(obj, dict):
        return [p for p in obj.values() if isinstance(p, NamedProblem)]
    if (
        isinstance(obj, type)
        and issubclass(obj, Problem)
        and isinstance(getattr(obj, "named", None), NamedProblem)
    ):
        return [obj.named]
    return []


class Walk:
    """The named problems reachable from some functions, and the bare problems built on the way."""

    def __init__(self) -> None:
        self.seen: set[Any] = set()
        self.raised: dict[str, NamedProblem] = {}
        self.bare: list[str] = []

    def value(self, obj: Any) -> None:
        for p in _problems_in(obj):
            self.raised[p.code] = p
        if obj is Problem:
            return
        if isinstance(obj, types.MethodType):
            obj = obj.__func__
        if isinstance(obj, staticmethod | classmethod):
            obj = obj.__func__
        if isinstance(obj, property):
            for f in (obj.fget, obj.fset):
                if f is not None:
                    self.function(f)
        elif isinstance(obj, types.FunctionType):
            self.function(obj)
        elif isinstance(obj, type) and _project(obj):
            for name in ("__init__", "__post_init__", "__call__"):
                if name in vars(obj):
                    self.value(vars(obj)[name])

    def function(self, f: types.FunctionType) -> None:
        f = inspect.unwrap(f)
        if f in self.seen or not _project(f):
            return
        self.seen.add(f)
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(f)))
        except (OSError, TypeError, SyntaxError):
            return
        node = tree.body[0]
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return
        names: dict[str, Any] = dict(vars(builtins)) | f.__globals__
        for var, cell in zip(f.__code__.co_freevars, f.__closure__ or (), strict=True):
            try:
                names[var] = cell.cell_contents
            except ValueError:
                pass
        owner = self._owner(f)
        local: dict[str, Any] = {}
        if owner is not None and node.args.args:
            local[node.args.args[0].arg] = owner  # self / cls
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
            if arg.annotation is not None:
                local.setdefault(arg.arg, self._resolve(arg.annotation, names, {}))
        for sub in ast.walk(node):
            if isinstance(sub, ast.AnnAssign) and isinstance(sub.target, ast.Name):
                local.setdefault(sub.target.id, self._resolve(sub.annotation, names, {}))
            elif (  # x = SomeClass(...): x is one of them
                isinstance(sub, ast.Assign)
                and len(sub.targets) == 1
                and isinstance(sub.targets[0], ast.Name)
                and isinstance(sub.value, ast.Call)
                and isinstance(made := self._resolve(sub.value.func, names, local), type)
                and _project(made)
            ):
                local.setdefault(sub.targets[0].id, made)
        skip: set[int] = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and sub.attr in NOT_RAISED:
                skip.add(id(sub.value))
        body = [n for stmt in node.body for n in ast.walk(stmt)]
        for sub in body:
            if id(sub) in skip or not isinstance(sub, ast.Name | ast.Attribute):
                continue
            obj = self._resolve(sub, names, local)
            if obj is None:
                continue
            self.value(obj)
        for sub in body:
            if isinstance(sub, ast.Call) and self._resolve(sub.func, names, local) is Problem:
                self.bare.append(
                    f"{f.__module__}.{f.__qualname__}: line {sub.lineno + f.__code__.co_firstlineno - 1}"
                )

    @staticmethod
    def _owner(f: types.FunctionType) -> type | None:
        parts = f.__qualname__.split(".")
        if len(parts) < 2 or "<locals>" in parts:
            return None
        obj: Any = f.__globals__.get(parts[0])
        for part in parts[1:-1]:
            obj = getattr(obj, part, None)
        return obj if isinstance(obj, type) else None

    def _resolve(self, node: ast.AST, names: dict[str, Any], local: dict[str, Any]) -> Any:
        if isinstance(node, ast.Name):
            if node.id in local:
                return local[node.id]
            return names.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value, names, local)
            if base is None:
                return None
            try:
                return inspect.getattr_static(base, node.attr)
            except AttributeError:
                return getattr(base, node.attr, None) if isinstance(base, types.ModuleType) else None
        if isinstance(node, ast.Subscript):  # Annotated[X, ...], X | None: the first class named
            return self._resolve(node.value, names, local)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
            try:
                return self._resolve(ast.parse(node.value, mode="eval").body, names, local)
            except SyntaxError:
                return None
        return None


def _dependencies(dependant) -> list[Any]:
    out = []
    for d in dependant.dependencies:
        if d.call is not None:
            out.append(d.call if isinstance(d.call, types.FunctionType) else type(d.call).__call__)
        out += _dependencies(d)
    return out


def route_problems(route) -> Walk:
    walk = Walk()
    walk.value(route.endpoint)
    for call in _dependencies(route.dependant):
        walk.value(call)
    return walk


def declared(op: dict[str, Any]) -> dict[str, set[str]]:
    return {status: set(r.get(PROBLEM_CODES, ())) for status, r in op.get("responses", {}).items()}


@pytest.fixture(scope="module")
def every_app(apps) -> dict[str, Any]:
    return {**apps, "gateway": create_gateway()}


def _operations(app) -> list[tuple[APIRoute, str, dict[str, Any]]]:
    doc = app.openapi()
    out = []
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods:
            out.append((route, method, doc["paths"][route.path_format][method.lower()]))
    return out


def test_every_problem_a_route_can_raise_is_declared(every_app):
    missing, bare = [], set()
    for name, app in every_app.items():
        for route, method, op in _operations(app):
            walk = route_problems(route)
            bare.update(walk.bare)
            have = declared(op)
            for p in walk.raised.values():
                if p.code not in have.get(str(p.status), ()):
                    missing.append(f"{name} {method} {route.path}: {p.status} {p.code}")
    assert not bare, "problems built from a bare status and code:\n" + "\n".join(sorted(bare))
    assert not missing, "raised but not declared:\n" + "\n".join(sorted(missing))


def test_the_walk_sees_what_a_route_raises(every_app):
    """The walk itself: it follows a router into its service, dependencies into the kit."""
    route = next(
        r
        for r in iter_route_contexts(every_app["standards"].routes)
        if isinstance(r.original_route, APIRoute) and r.path == "/v1/certifications/{certificate_no:path}"
    )
    codes = set(route_problems(route).raised)
    assert {"ambiguous_certificate_no", "not_found", "forbidden", "principal_missing"} <= codes


def test_every_declared_code_is_a_named_problem_under_its_status(every_app):
    named = {p.code: p for p in defined_problems()}
    wrong = []
    for name, app in every_app.items():
        for path, item in app.openapi()["paths"].items():
            for method, op in item.items():
                for status, response in op.get("responses", {}).items():
                    codes = response.get(PROBLEM_CODES)
                    if codes is None:
                        if status[0] in "45":
                            wrong.append(f"{name} {method} {path} {status}: no problem codes")
                        continue
                    media = response["content"][PROBLEM_JSON]
                    assert media["schema"]["$ref"].endswith("/ProblemDetail"), (path, status)
                    for code in codes:
                        p = named.get(code)
                        if p is None or str(p.status) != status:
                            wrong.append(f"{name} {method} {path} {status}: {code}")
                        elif media["examples"][code]["value"]["title"] != p.title:
                            wrong.append(f"{name} {method} {path} {status}: {code} titled otherwise")
    assert not wrong, "\n".join(wrong)


def test_problem_codes_are_unique_with_one_status_and_one_title(every_app):
    for module in ERRORS_MODULES:  # every domain's problems are defined (imported) by now
        assert any(isinstance(v, NamedProblem) for v in vars(module).values()), module
    seen: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for p in defined_problems():
        seen[p.code].add((p.status, p.title))
    for app in every_app.values():
        for item in app.openapi()["paths"].values():
            for op in item.values():
                for response in op.get("responses", {}).values():
                    for code, example in (
                        response.get("content", {}).get(PROBLEM_JSON, {}).get("examples", {}).items()
                    ):
                        seen[code].add((example["value"]["status"], example["value"]["title"]))
    twice = {code: pairs for code, pairs in seen.items() if len(pairs) != 1}
    assert not twice
    with pytest.raises(AmbiguousProblem):  # a second definition of a code is refused at import
        NamedProblem(404, "not_found", "another not found")


def test_the_merged_document_declares_the_front_doors_refusals(every_app):
    own = every_app["gateway"].openapi()
    services = {name: every_app[name].openapi() for name in ("registry", "finance", "standards")}
    doc = merge(own, services)
    admission = {p.code for p in gateway.errors.ADMISSION}
    for path, item in doc["paths"].items():
        if not path.startswith(("/registry/", "/finance/", "/standards/")):
            continue
        for method, op in item.items():
            codes = {c for r in op["responses"].values() for c in r.get(PROBLEM_CODES, ())}
            public = op["security"] == []
            expected = {p.code for p in gateway.errors.UPSTREAM} | admission
            if public:
                expected -= {"forbidden"}
            assert expected <= codes, (method, path, expected - codes)


def test_no_problem_is_built_from_a_bare_status_and_code():
    """Outside services.common.errors, a problem is raised or answered only as a named one."""
    builders = {"Problem", "problem_body", "problem_response"}
    bare = []
    for path in sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("gateway/**/*.py")]):
        if path == ROOT / "services/common/errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if func in builders and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                bare.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bare, bare

"""The runtime package (API, controllers, auth, errors, worker, effects) imports none of the dev
tooling (api/devtools: cluster, local services, dev and test runners, migrations, docs generator)
and nothing from the tests: production ships without them."""

from __future__ import annotations

import ast
import subprocess
import sys

from api.config import PROJECT_ROOT

API = PROJECT_ROOT / "api"
FORBIDDEN = ("api.devtools", "tests")


def runtime_modules() -> list[str]:
    return sorted(".".join(p.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for p in API.rglob("*.py") if "devtools" not in p.relative_to(API).parts)


def imported_names(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_runtime_source_imports_no_tooling() -> None:
    offenders = []
    for path in API.rglob("*.py"):
        if "devtools" in path.relative_to(API).parts:
            continue
        bad = sorted(n for n in imported_names(path.read_text()) if n.startswith(FORBIDDEN))
        offenders += [f"{path.relative_to(PROJECT_ROOT)}: {n}" for n in bad]
    assert not offenders, "runtime modules import dev tooling or tests:\n" + "\n".join(offenders)


def test_importing_the_runtime_loads_no_tooling() -> None:
    modules = runtime_modules()
    assert "api.worker" in modules and "api.app" in modules
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]", f"loaded with the runtime: {out.stdout.strip()}"

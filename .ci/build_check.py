"""Check what `sam build` produced: the layer holds the lodge package (at python/lodge, not
python/python/lodge) with its arm64 requirements, and every function's build dir holds its app.py.

Run after `sam build` (make build-check). Exits non-zero with one line per problem.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "devtools"))

from lodge_devtools.template import load, resources  # noqa: E402 - needs the path above

BUILD = ROOT / ".aws-sam" / "build"


def problems() -> list[str]:
    """Everything wrong with the build directory, compared with template.yaml."""
    found: list[str] = []
    built = BUILD / "template.yaml"
    if not built.is_file():
        return [f"{built} is missing: run sam build first"]
    source = load()
    built_template = load(built)
    for name in resources(source, "AWS::Serverless::LayerVersion"):
        layer = BUILD / name / "python"
        if not (layer / "lodge" / "__init__.py").is_file():
            found.append(f"layer {name}: {layer}/lodge/__init__.py is missing")
        if (layer / "python").exists():
            found.append(f"layer {name}: nested python/python/ (ContentUri must be layers/lodge/python/)")
        cores = list(layer.glob("pydantic_core/_pydantic_core*.so"))
        if not cores:
            found.append(f"layer {name}: pydantic_core is not installed (layer requirements.txt not built)")
        elif not all("aarch64" in core.name for core in cores):
            found.append(f"layer {name}: pydantic_core is not the arm64 build: {[c.name for c in cores]}")
    built_functions = resources(built_template, "AWS::Serverless::Function")
    for name, resource in resources(source, "AWS::Serverless::Function").items():
        code_uri = str(resource["Properties"]["CodeUri"])
        if name not in built_functions:
            found.append(f"function {name}: not in the built template")
            continue
        app = BUILD / name / "app.py"
        if not app.is_file():
            found.append(f"function {name}: {app} is missing (source {code_uri})")
        elif app.read_bytes() != (ROOT / code_uri / "app.py").read_bytes():
            found.append(f"function {name}: built app.py differs from {code_uri}app.py (stale build?)")
    return found


def main() -> int:
    found = problems()
    for problem in found:
        print(f"build-check: {problem}", file=sys.stderr)
    if not found:
        print(f"build-check: OK ({BUILD.relative_to(ROOT)})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

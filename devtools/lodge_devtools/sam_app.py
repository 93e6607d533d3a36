"""What the local runner serves, read from template.yaml: functions, HttpApi routes and CORS.

Route matching follows API Gateway HTTP API: an exact route beats one with `{param}` segments,
and among those the one whose literal segments come first wins; `{name+}` is greedy. A path that
matches no route for its method is a 404 `{"message":"Not Found"}` (HTTP APIs never answer 405).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lodge_devtools import template as tpl

DEFAULT_TABLE = "lodge-local"
DEFAULT_BUCKET = "lodge-local-payloads"
_PARAM = re.compile(r"^\{([A-Za-z0-9_.\-]+)(\+?)\}$")


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    timeout: float
    memory: int
    environment: dict[str, str]

    @property
    def dir_name(self) -> str:
        return self.code_dir.name


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    segments: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.path.split("/")[1:]))

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, path_segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
        """(specificity rank, path parameters) when the path matches; lower ranks are more specific."""
        params: dict[str, str] = {}
        rank: list[int] = []
        for i, pattern in enumerate(self.segments):
            param = _PARAM.match(pattern)
            if param and param.group(2):  # greedy {proxy+}: the rest of the path
                rest = path_segments[i:]
                # "/x/{proxy+}" matches "/x/" (empty rest) but not "/x": that is how the template serves
                # trailing-slash paths such as POST /api/1/item/ (docs/deploy.md, "Trailing slashes").
                if not rest:
                    return None
                params[param.group(1)] = "/".join(rest)
                return (*rank, 2), params
            if i >= len(path_segments):
                return None
            segment = path_segments[i]
            if param:
                if not segment:
                    return None
                params[param.group(1)] = segment
                rank.append(1)
            elif segment == pattern:
                rank.append(0)
            else:
                return None
        if len(path_segments) != len(self.segments):
            return None
        return tuple(rank), params


@dataclass(frozen=True)
class Cors:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    def allowed_origin(self, origin: str) -> str | None:
        if not origin:
            return None
        if "*" in self.allow_origins:
            return "*"
        return origin if origin in self.allow_origins else None


@dataclass
class App:
    functions: dict[str, FunctionSpec]
    routes: list[Route]
    cors: Cors | None
    root: Path

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route API Gateway would pick for this method and path (None: 404 Not Found)."""
        segments = path.split("/")[1:]
        best: tuple[tuple[int, ...], Route, dict[str, str]] | None = None
        for route in self.routes:
            if route.method not in (method.upper(), "ANY"):
                continue
            found = route.match(segments)
            if found is None:
                continue
            rank = (*found[0], 1 if route.method == "ANY" else 0)
            if best is None or rank < best[0]:
                best = (rank, route, found[1])
        return (best[1], best[2]) if best else None

    def function(self, name: str) -> FunctionSpec:
        """A function by logical id or by its code directory name (`RollbarItemFunction` or `rollbar_item`)."""
        if name in self.functions:
            return self.functions[name]
        for spec in self.functions.values():
            if spec.dir_name == name.strip("/").split("/")[-1]:
                return spec
        raise KeyError(f"no function {name!r} in template; known: {', '.join(sorted(self.functions))}")


def _resolve(value: Any, refs: Mapping[str, str]) -> str:
    """Resolve the intrinsics the runner needs in environment values (!Ref, simple !Sub)."""
    if isinstance(value, dict) and "Ref" in value:
        return refs.get(value["Ref"], str(value["Ref"]))
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: refs.get(m.group(1), m.group(0)), value["Fn::Sub"])
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_app(template_path: Path = tpl.TEMPLATE, *, table: str = DEFAULT_TABLE, bucket: str = DEFAULT_BUCKET) -> App:
    template = tpl.load(template_path)
    root = template_path.resolve().parent
    refs: dict[str, str] = {
        name: str(param.get("Default", "")) for name, param in (template.get("Parameters") or {}).items()
    }
    refs.update({name: table for name in tpl.resources(template, "AWS::DynamoDB::Table")})
    refs.update({name: bucket for name in tpl.resources(template, "AWS::S3::Bucket")})
    refs.update({"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::StackName": "lodge-local"})
    globals_fn: dict[str, Any] = (template.get("Globals") or {}).get("Function") or {}
    global_env = (globals_fn.get("Environment") or {}).get("Variables") or {}

    functions: dict[str, FunctionSpec] = {}
    routes: list[Route] = []
    for logical_id, resource in tpl.resources(template, "AWS::Serverless::Function").items():
        props: dict[str, Any] = {**globals_fn, **(resource.get("Properties") or {})}
        env_vars = {**global_env, **((props.get("Environment") or {}).get("Variables") or {})}
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=(root / str(props.get("CodeUri", "."))).resolve(),
            handler=str(props.get("Handler", "app.lambda_handler")),
            timeout=float(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
            environment={k: _resolve(v, refs) for k, v in env_vars.items()},
        )
        for event in (props.get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            event_props = event.get("Properties") or {}
            method = str(event_props.get("Method", "ANY")).upper()
            path = str(event_props.get("Path", "/$default"))
            routes.append(
                Route("ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method, path, logical_id)
            )

    cors: Cors | None = None
    for api in tpl.resources(template, "AWS::Serverless::HttpApi").values():
        config = (api.get("Properties") or {}).get("CorsConfiguration")
        if config is True:
            cors = Cors(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
        elif isinstance(config, dict):
            cors = Cors(
                allow_origins=tuple(config.get("AllowOrigins") or ()),
                allow_methods=tuple(m.upper() for m in config.get("AllowMethods") or ()),
                allow_headers=tuple(h.lower() for h in config.get("AllowHeaders") or ()),
                expose_headers=tuple(config.get("ExposeHeaders") or ()),
                max_age=int(config["MaxAge"]) if "MaxAge" in config else None,
                allow_credentials=bool(config.get("AllowCredentials", False)),
            )
    return App(functions=functions, routes=routes, cors=cors, root=root)

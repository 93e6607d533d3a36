"""Pure mutation primitives: JSON-tree edits, hostile values, serializations, body encodings.

Everything here is deterministic given its arguments, so a case can be described by the labels of
the mutations that made it and rebuilt from them. The hypothesis strategies (strategies.py) choose
which primitive to apply where.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
import zlib
from functools import cache
from typing import Any
from urllib.parse import quote_plus

Path = tuple[str | int, ...]
MAX_PATHS = 4000

# ---- tree navigation -----------------------------------------------------------------------------


def paths(tree: Any, limit: int = MAX_PATHS) -> list[Path]:
    """Every node's path, root first, breadth-first (so a cap keeps the shallow, important keys)."""
    found: list[Path] = []
    queue: list[tuple[Path, Any]] = [((), tree)]
    while queue and len(found) < limit:
        next_queue: list[tuple[Path, Any]] = []
        for path, node in queue:
            found.append(path)
            if isinstance(node, dict):
                next_queue.extend(((*path, key), child) for key, child in node.items())
            elif isinstance(node, list):
                next_queue.extend(((*path, index), child) for index, child in enumerate(node))
        queue = next_queue
    return found[:limit]


def get(tree: Any, path: Path) -> Any:
    for step in path:
        tree = tree[step]
    return tree


def replace(tree: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    get(tree, path[:-1])[path[-1]] = value
    return tree


def delete(tree: Any, path: Path) -> Any:
    if not path:
        return None
    parent = get(tree, path[:-1])
    del parent[path[-1]]
    return tree


def rename(tree: Any, path: Path, new_key: str) -> Any:
    """Give a dict entry another key (lone surrogates, empty, huge...), keeping its value and order."""
    if not path or not isinstance(path[-1], str):
        return tree
    parent = get(tree, path[:-1])
    items = [(new_key if key == path[-1] else key, value) for key, value in parent.items()]
    parent.clear()
    parent.update(items)
    return tree


def insert(tree: Any, path: Path, key: str, value: Any) -> Any:
    """Add `key: value` to the dict at `path` (or append to the list there)."""
    node = get(tree, path)
    if isinstance(node, dict):
        node[key] = value
    elif isinstance(node, list):
        node.append(value)
    return tree


def surrogate_every_key_and_value(tree: Any, surrogate: str = "\ud800") -> Any:
    """The issue's case: a lone surrogate appended to every key and every string value."""
    if isinstance(tree, dict):
        return {f"{key}{surrogate}": surrogate_every_key_and_value(value, surrogate) for key, value in tree.items()}
    if isinstance(tree, list):
        return [surrogate_every_key_and_value(value, surrogate) for value in tree]
    if isinstance(tree, str):
        return tree + surrogate
    return tree


def string_leaves(tree: Any) -> list[Path]:
    return [path for path in paths(tree, limit=100_000) if isinstance(get(tree, path), str)]


# ---- hostile values ------------------------------------------------------------------------------


def deep(depth: int, kind: str = "list") -> Any:
    node: Any = "bottom"
    for _ in range(depth):
        node = [node] if kind == "list" else {"k": node}
    return node


_MAKERS: dict[str, Any] = {
    "null": lambda: None,
    "true": lambda: True,
    "zero": lambda: 0,
    "negative": lambda: -1,
    "int_64_overflow": lambda: 2**64,
    "int_huge": lambda: 10**400,
    "int_neg_huge": lambda: -(10**400),
    "float_tiny": lambda: 5e-324,
    "float_huge": lambda: 1.7976931348623157e308,
    "nan": lambda: float("nan"),
    "infinity": lambda: float("inf"),
    "neg_infinity": lambda: float("-inf"),
    "empty_string": lambda: "",
    "whitespace": lambda: " \t\r\n ",
    "nul": lambda: "a\x00b",
    "control": lambda: "".join(chr(c) for c in range(32)),
    "lone_high_surrogate": lambda: "\ud800",
    "lone_low_surrogate": lambda: "x\udfffy",
    "cut_pair": lambda: "emoji \ud83d",
    "non_bmp": lambda: "\U0001f4a9\U000e0041",
    "rtl_override": lambda: "\u202egnp.exe",
    "bom": lambda: "\ufeffvalue",
    "long_line": lambda: "word " * 2000,
    "string_64k": lambda: "x" * 65_536,
    "string_450k": lambda: "E" * 450_000,
    "string_1m": lambda: "M" * 1_000_001,
    "empty_list": lambda: [],
    "empty_dict": lambda: {},
    "list_of_nulls": lambda: [None] * 50,
    "long_list": lambda: list(range(20_000)),
    "wide_dict": lambda: {f"k{i}": i for i in range(5_000)},
    "deep_list_40": lambda: deep(40),
    "deep_dict_40": lambda: deep(40, "dict"),
    "deep_list_900": lambda: deep(900),
    "deep_dict_900": lambda: deep(900, "dict"),
    "nested_nan": lambda: {"a": [float("nan"), {"b": float("inf")}]},
    "numeric_string": lambda: "1e400",
    "date_string": lambda: "Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
    "iso_date": lambda: "2026-13-45T25:61:61Z",
    "html": lambda: "<script>alert(1)</script>",
    "path_traversal": lambda: "../../../../etc/passwd",
    "format_string": lambda: "%s%s%s%n{0}{__class__}",
    "sql": lambda: "' OR 1=1 --",
    "bytes_like": lambda: "\\x00\\xff",
}


def special_value(name: str) -> Any:
    """A named hostile value; names are stable so a finding can quote the one that caused it."""
    return _MAKERS[name]()


EXPENSIVE_VALUES = ("string_450k", "string_1m", "long_list", "wide_dict", "deep_list_900", "deep_dict_900")
"""Slow to build and to store: drawn rarely."""
SPECIAL_VALUES = tuple(name for name in _MAKERS if name not in EXPENSIVE_VALUES)

SPECIAL_KEYS = (
    "",
    "\ud800",
    "key\udfff",
    "\ud83d",
    "\x00",
    "K" * 10_000,
    "__proto__",
    "constructor",
    "$where",
    "a.b",
    "pk",
    "sk",
    "#",
    ":v",
    "\U0001f4a9",
)


# ---- serialization -------------------------------------------------------------------------------

SERIALIZATIONS = (
    "json",
    "json_utf8",
    "json_pretty",
    "json_bom",
    "json_latin1",
    "trailing_garbage",
    "truncated",
    "duplicate_keys",
    "single_quotes",
    "top_null",
    "top_array",
    "top_string",
    "empty",
    "whitespace",
    "random_bytes",
)


def serialize(tree: Any, style: str) -> bytes:
    """Bytes of `tree` in a well-formed or subtly broken JSON dialect."""
    if style == "json":  # \uXXXX escapes: lone surrogates stay valid JSON text
        return json.dumps(tree).encode()
    if style == "json_utf8":  # raw UTF-8; a lone surrogate becomes invalid UTF-8 (ED A0 80)
        return json.dumps(tree, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if style == "json_pretty":
        return json.dumps(tree, indent=2).encode()
    if style == "json_bom":
        return b"\xef\xbb\xbf" + json.dumps(tree).encode()
    if style == "json_latin1":
        return json.dumps(tree, ensure_ascii=False).encode("latin-1", "replace")
    if style == "trailing_garbage":
        return json.dumps(tree).encode() + b"}\x00garbage"
    if style == "truncated":
        data = json.dumps(tree).encode()
        return data[: max(1, len(data) * 2 // 3)]
    if style == "duplicate_keys":
        text = json.dumps(tree)
        return (text[:-1] + ', "data": null, "data": 1}').encode() if text.endswith("}") else text.encode()
    if style == "single_quotes":
        return json.dumps(tree).replace('"', "'").encode()
    if style == "top_null":
        return b"null"
    if style == "top_array":
        return json.dumps([tree]).encode()
    if style == "top_string":
        return json.dumps(json.dumps(tree)).encode()
    if style == "empty":
        return b""
    if style == "whitespace":
        return b" \r\n\t "
    if style == "random_bytes":
        return bytes((i * 131 + 7) % 256 for i in range(257))
    raise ValueError(style)


_UNSAFE = re.compile(rb"[^A-Za-z0-9_.~-]")


def form_escape(data: bytes) -> bytes:
    """quote_plus for bytes, fast on megabyte bodies (the stdlib's is a per-byte Python loop)."""
    return _UNSAFE.sub(lambda match: b"+" if match[0] == b" " else b"%%%02X" % match[0][0], data)


def form_wrap(field: str, body: bytes, extra: dict[str, str] | None = None) -> bytes:
    """`field=<urlencoded body>` plus extra fields: how old gems and rollbar-gem/php send JSON."""
    parts = [f"{name}={quote_plus(value)}".encode() for name, value in (extra or {}).items()]
    parts.append(field.encode() + b"=" + form_escape(body))
    return b"&".join(parts)


# ---- compression and bombs -----------------------------------------------------------------------

ENCODINGS = (
    "identity",
    "gzip",
    "zlib",
    "deflate_raw",
    "zlib_fast",
    "gzip_twice",
    "gzip_truncated",
    "zlib_truncated",
    "gzip_trailing_garbage",
    "gzip_bomb",
    "zlib_bomb",
    "deflate_bomb",
    "gzip_deep_bomb",
)


@cache
def _bomb(kind: str) -> bytes:
    zeros = b"\x00" * (64 * 1024 * 1024)
    if kind == "gzip_bomb":
        return gzip.compress(zeros, 9)
    if kind == "zlib_bomb":
        return zlib.compress(zeros, 9)
    if kind == "deflate_bomb":
        deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        return deflater.compress(zeros) + deflater.flush()
    if kind == "gzip_deep_bomb":  # valid JSON prefix that nests 5 million levels deep
        return gzip.compress(b"[" * 5_000_000, 9)
    raise ValueError(kind)


def encode(body: bytes, encoding: str) -> bytes:
    if encoding == "identity":
        return body
    if encoding == "gzip":
        return gzip.compress(body, 6)
    if encoding == "zlib":
        return zlib.compress(body, 6)
    if encoding == "zlib_fast":  # Zlib::Deflate BEST_SPEED, the AppSignal gem's choice
        return zlib.compress(body, 1)
    if encoding == "deflate_raw":
        deflater = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        return deflater.compress(body) + deflater.flush()
    if encoding == "gzip_twice":
        return gzip.compress(gzip.compress(body))
    if encoding == "gzip_truncated":
        data = gzip.compress(body)
        return data[: max(3, len(data) // 2)]
    if encoding == "zlib_truncated":
        data = zlib.compress(body)
        return data[: max(3, len(data) // 2)]
    if encoding == "gzip_trailing_garbage":
        return gzip.compress(body) + b"\x00trailing"
    if encoding.endswith("bomb"):
        return _bomb(encoding)
    raise ValueError(encoding)


CONTENT_ENCODING_LABELS = ("", "gzip", "deflate", "br", "identity", "x-gzip", "gzip, gzip", "GZIP ", "compress", "zz")
CONTENT_TYPES = (
    "application/json",
    "application/json; charset=UTF-8",
    "application/json; charset=latin-1",
    "application/x-www-form-urlencoded",
    "text/plain",
    "multipart/form-data; boundary=xyz",
    "application/octet-stream",
    "",
    "garbage/\u00fc",
)


def oversize_body(size: int = 1_200_000) -> bytes:
    """Well-formed JSON past the 1 MB limit."""
    return json.dumps({"data": {"body": {"message": {"body": "O" * size}}}}).encode()


def clone(tree: Any) -> Any:
    return copy.deepcopy(tree)

"""Grouping: which issue an occurrence belongs to, and why (v1; Sentry events use v2, at the end).

Order of precedence (Rollbar's documented default, docs/protocols/rollbar.md):
1. the client's fingerprint: up to 40 characters as-is, longer ones by their SHA1;
2. exception class + filename and method of every frame (no line numbers; `server.root`,
   dates, shas and long integers stripped so deploys and generated names do not split issues);
3. with no frames: exception class + the message with data (uuids, hex, numbers, ips, emails,
   dates, urls) replaced by placeholders, so "user 123 not found" and "user 456 not found" match.

Issues are per project *and* environment, as in Rollbar. Performance samples are not grouped.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from lodge.occurrence import Frame, Occurrence

ALGORITHM_VERSION = 1


@dataclass(frozen=True)
class Grouping:
    group_id: str
    fingerprint: str
    reason: str
    title: str
    version: int = ALGORITHM_VERSION


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


_PARAMETERIZERS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Runs start only where the previous character cannot continue them and never give characters
    # back (possessive), so a 1 MB message is one linear pass, not a quadratic backtracking scan.
    (re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)+"), "<email>"),
    (re.compile(r"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*+://[^\s'\"<>]+", re.I), "<url>"),
    (re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.I), "<uuid>"),
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"),
        "<date>",
    ),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b"), "<time>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    # IPv6, also compressed ("2001:db8::1", "::1"); a digit is required so "Abc::Def" stays a name.
    (re.compile(r"(?<![\w:])(?=[0-9a-f:]*\d)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?![\w:])", re.I), "<ip>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"(?<![\w.])-?\d+\.\d+\b"), "<float>"),
)
_INTEGER = re.compile(r"(?<![\w<])\d{2,}\b")
_KEPT_CODE_CONTEXT = re.compile(r"(?:http|status|code|errno|error)[\s:#=]*$", re.I)


def normalize_message(message: str) -> str:
    """Replace the data inside a message with placeholders (Sentry/Bugsink parameterization)."""
    text = message.strip()
    for pattern, placeholder in _PARAMETERIZERS:
        text = pattern.sub(placeholder, text)

    def _integer(match: re.Match[str]) -> str:
        # "HTTP 404", "status 500", "errno 13": codes that tell errors apart are kept.
        if _KEPT_CODE_CONTEXT.search(text[max(0, match.start() - 12) : match.start()]):
            return match.group(0)
        return "<int>"

    return _INTEGER.sub(_integer, text)


# Whole hex/digit runs first (shas, Capistrano's 14-digit release dirs), then dates inside names.
# A digit is required so that words made of a-f ("defaced") are not taken for data.
_PATH_DATA = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{7,64}\b|\d{4}-?\d{2}-?\d{2}", re.I)
_METHOD_INTEGERS = re.compile(r"\d{2,}")


def _frame_key(frame: Frame, root: str | None) -> str:
    filename = frame.filename or ""
    if root and filename.startswith(root):
        filename = "<root>" + filename[len(root) :]
    filename = _PATH_DATA.sub("<data>", filename)
    method = _METHOD_INTEGERS.sub("<int>", frame.method or "")
    class_name = frame.class_name or ""
    return f"{filename}:{class_name}:{method}"


def _client_fingerprint(value: str) -> str:
    return value if len(value) <= 40 else _sha1(value)


def compute(occurrence: Occurrence) -> Grouping | None:
    """Group an occurrence; None for performance samples, which are not issues."""
    if occurrence.kind == "performance":
        return None
    if occurrence.protocol == "sentry":
        return _compute_v2(occurrence)
    title = occurrence.default_title()
    if occurrence.fingerprint:
        fingerprint = _client_fingerprint(occurrence.fingerprint)
        reason = "client fingerprint"
    elif occurrence.exceptions and occurrence.exceptions[0].frames:
        head = occurrence.exceptions[0]
        root = occurrence.server.root if occurrence.server else None
        if root and not root.endswith("/"):
            root += "/"
        parts = [_frame_key(frame, root) for frame in head.frames]
        fingerprint = _sha1("v1|frames|" + head.type + "|" + "|".join(parts))
        reason = f"exception class {head.type} and the filename and method of its {len(parts)} frame(s)"
    elif occurrence.exceptions:
        head = occurrence.exceptions[0]
        normalized = normalize_message(head.message or "")
        fingerprint = _sha1("v1|exception|" + head.type + "|" + normalized)
        reason = f"exception class {head.type} and normalized message (no frames)"
    else:
        normalized = normalize_message(occurrence.message or title)
        fingerprint = _sha1("v1|message|" + normalized)
        reason = "normalized message"
    group_id = _sha1(f"{occurrence.environment}\n{fingerprint}")[:20]
    return Grouping(group_id=group_id, fingerprint=fingerprint, reason=reason, title=title)


# ---- v2 (Sentry events only) ------------------------------------------------------------------
# Sentry SDKs mark each frame `in_app`; Sentry groups on those frames, so a change inside a library
# (or a different library version) does not split an issue. Their `fingerprint` is an array whose
# "{{ default }}" entry stands for the default grouping. Other protocols stay on v1: their issues
# keep their ids.

SENTRY_ALGORITHM_VERSION = 2
_DEFAULT_PLACEHOLDER = re.compile(r"^\{\{\s*default\s*\}\}$")


def _grouping_frames(frames: list[Frame]) -> list[Frame]:
    in_app = [frame for frame in frames if (frame.model_extra or {}).get("in_app") is True]
    return in_app or frames


def _logentry_template(occurrence: Occurrence) -> str | None:
    logentry = (occurrence.extra or {}).get("logentry")
    template = logentry.get("message") if isinstance(logentry, dict) else None
    return template if isinstance(template, str) and template.strip() else None


def _default_v2(occurrence: Occurrence) -> tuple[str, str]:
    head = occurrence.exceptions[0] if occurrence.exceptions else None
    frames = _grouping_frames(head.frames) if head else []
    if head and frames:
        parts = [_frame_key(frame, None) for frame in frames]
        which = "in-app " if (frames[0].model_extra or {}).get("in_app") is True else ""
        return (
            _sha1("v2|frames|" + head.type + "|" + "|".join(parts)),
            f"exception class {head.type} and the filename and function of its {len(parts)} {which}frame(s)",
        )
    if head:
        return (
            _sha1("v2|exception|" + head.type + "|" + normalize_message(head.message or "")),
            f"exception class {head.type} and normalized message (no frames)",
        )
    template = _logentry_template(occurrence)
    if template is not None:
        return _sha1("v2|message|" + normalize_message(template)), "message template (logentry.message)"
    return _sha1(
        "v2|message|" + normalize_message(occurrence.message or occurrence.default_title())
    ), "normalized message"


def _compute_v2(occurrence: Occurrence) -> Grouping:
    title = occurrence.default_title()
    default, reason = _default_v2(occurrence)
    raw = (occurrence.extra or {}).get("fingerprint")
    parts = [p if isinstance(p, str) else json.dumps(p, default=str) for p in raw] if isinstance(raw, list) else []
    if parts:
        uses_default = any(_DEFAULT_PLACEHOLDER.match(p.strip()) for p in parts)
        resolved = [default if _DEFAULT_PLACEHOLDER.match(p.strip()) else p for p in parts]
        fingerprint = _sha1("v2|fingerprint|" + json.dumps(resolved))
        reason = f"client fingerprint with {{{{ default }}}} ({reason})" if uses_default else "client fingerprint"
    else:
        fingerprint = default
    group_id = _sha1(f"{occurrence.environment}\n{fingerprint}")[:20]
    return Grouping(group_id, fingerprint, reason, title, SENTRY_ALGORITHM_VERSION)

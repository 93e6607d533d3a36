"""Server-side scrubbing of secrets in client data, before anything is stored.

Clients send what their apps hand them: passwords in request params, `Authorization` and `Cookie`
headers, tokens in frame locals, card numbers in messages. Their own scrubbers cover a fraction
of it (pyrollbar's `scrub_fields`, Sentry's `send_default_pii`), so Lodge scrubs again, on by
default, with one policy for every protocol. docs/scrubbing.md says what is filtered.

How the pipeline calls it: once per occurrence, after the wire model is parsed and before grouping,
so the stored detail, the title and the grouping key all see scrubbed text:

    policy = scrub.policy_from_config(project_settings.get("scrubbing"))
    detail = scrub.scrub_tree(detail, policy)      # request, locals, custom, context, env, session...
    title = scrub.scrub_text(title, policy)        # titles and messages kept outside the tree

Two kinds of rules:
- key rules: a value whose key (at any depth, in dicts or in [name, value] pairs) normalizes to
  a sensitive name is replaced by "[Filtered]"; the key stays, so the reader sees that it existed;
- value rules, on every string (and on integers that look like card numbers): Luhn-valid card
  numbers, bearer/basic credentials, AWS access key ids and secret keys, private key blocks,
  URL passwords and sensitive `name=value` pairs (query strings, cookies, form bodies, log text),
  where only the secret part is replaced.

Work is linear in the size of the input: the tree walk is iterative (no recursion limit on deep
input), and every pattern is anchored on a bounded prefix with no nested quantifiers.
Pure Python, standard library only: it runs in every ingest function, so it must stay cheap to import.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

FILTERED = "[Filtered]"

# Sentry's default denylist (sentry-python's DEFAULT_DENYLIST, which follows Relay's defaults).
SENTRY_KEYS = (
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "auth",
    "credentials",
    "mysql_pwd",
    "privatekey",
    "private_key",
    "token",
    "session",
    "csrftoken",
    "sessionid",
    "x_csrftoken",
    "x_forwarded_for",
    "set_cookie",
    "cookie",
    "authorization",
    "proxy-authorization",
    "x_api_key",
    "aiohttp_session",
    "connect.sid",
    "csrf_token",
    "csrf",
    "_csrf",
    "_csrf_token",
    "PHPSESSID",
    "_session",
    "symfony",
    "user_session",
    "_xsrf",
    "XSRF-TOKEN",
)
# pyrollbar's default `scrub_fields`.
ROLLBAR_KEYS = (
    "pw",
    "passwd",
    "password",
    "secret",
    "confirm_password",
    "confirmPassword",
    "password_confirmation",
    "passwordConfirmation",
    "access_token",
    "accessToken",
    "auth",
    "authentication",
    "authorization",
)
SUBSTRING_KEYS = (
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "credential",
    "authorization",
    "cookie",
    "accesskey",
    "sessionid",
    "mysqlpwd",
)
"""Names that mark a key sensitive wherever they occur in it (`db_password`, `X-Auth-Token`,
`aws_secret_access_key`, `cookies`), as Relay's password rule matches key names."""

_STRIPPED_PREFIXES = ("http", "x")
"""CGI and header prefixes: `HTTP_AUTHORIZATION`, `X-Api-Key` are `authorization`, `api_key`."""


def normalize_key(key: str) -> str:
    """Case-folded, with `-`, `_`, `.`, spaces and the HTTP_/X- prefixes removed: `HTTP_X_API_KEY`,
    `x-api-key` and `ApiKey` all become `apikey`."""
    lowered = key.casefold()
    parts = [part for part in re.split(r"[-_. ]+", lowered) if part]
    while len(parts) > 1 and parts[0] in _STRIPPED_PREFIXES:
        parts = parts[1:]
    return "".join(parts)


DEFAULT_KEYS = frozenset(normalize_key(key) for key in (*SENTRY_KEYS, *ROLLBAR_KEYS))
_SUBSTRINGS = tuple(sorted(set(SUBSTRING_KEYS)))
_MAX_KEY_CACHE = 4096
_UNKNOWN = object()


@dataclass(frozen=True)
class Policy:
    """A project's scrubbing policy: on by default; `extra_keys` add names, `safe_keys` exempt
    names (their whole value is kept as sent), `enabled=False` turns scrubbing off."""

    enabled: bool = True
    extra_keys: frozenset[str] = frozenset()
    safe_keys: frozenset[str] = frozenset()
    _cache: dict[str, bool | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, *, enabled: bool = True, extra_keys: Iterable[str] = (), safe_keys: Iterable[str] = ()) -> Policy:
        return cls(
            enabled,
            frozenset(normalize_key(k) for k in extra_keys if k),
            frozenset(normalize_key(k) for k in safe_keys if k),
        )

    def classify(self, key: str) -> bool | None:
        """True: sensitive (filter the value); None: safe (keep the whole value); False: neither."""
        cached = self._cache.get(key, _UNKNOWN)
        if cached is not _UNKNOWN:
            return cached  # type: ignore[return-value]
        name = normalize_key(key)
        verdict: bool | None
        if name in self.safe_keys:
            verdict = None
        else:
            verdict = name in DEFAULT_KEYS or name in self.extra_keys or any(s in name for s in _SUBSTRINGS)
        if len(self._cache) < _MAX_KEY_CACHE:
            self._cache[key] = verdict
        return verdict

    def is_sensitive(self, key: str) -> bool:
        return bool(self.classify(key))


DEFAULT_POLICY = Policy()
OFF = Policy(enabled=False)


def policy_from_config(config: Mapping[str, Any] | None) -> Policy:
    """The policy from a project's settings, e.g. `{"enabled": true, "extra_keys": ["ssn"],
    "safe_keys": ["session"]}`; missing or malformed parts fall back to the defaults."""
    if not isinstance(config, Mapping):
        return DEFAULT_POLICY

    def names(value: Any) -> list[str]:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, (list, tuple, set, frozenset)):
            return [item for item in value if isinstance(item, str)]
        return []

    enabled = config.get("enabled", True)
    return Policy.build(
        enabled=enabled if isinstance(enabled, bool) else True,
        extra_keys=names(config.get("extra_keys")),
        safe_keys=names(config.get("safe_keys")),
    )


# ---- value rules -----------------------------------------------------------------------------------

# 13-19 digits, single spaces or dashes allowed between them, not inside a longer digit run.
_CARD = re.compile(r"(?<![0-9])[2-6](?:[ -]?[0-9]){12,18}(?![0-9])")
_CREDENTIAL = re.compile(r"\b(bearer|basic|token)([ \t]+)([A-Za-z0-9._~+/-]{8,4096}=*)", re.IGNORECASE)
_AWS_KEY_ID = re.compile(
    r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Z0-9])"
)
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_URL_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]{0,20}://[^\s/:@\"'<>]{0,256}:)([^\s/@\"'<>]{1,256})(@)")
_PAIR = re.compile(r"(?<![A-Za-z0-9_.\[\]-])([A-Za-z0-9_.\[\]-]{1,64})(=)([^&#;\s\"'<>]+)")
_JSON_PAIR = re.compile(r"\"([A-Za-z0-9_.\[\] -]{1,64})\"(\s*:\s*)\"([^\"\\]{1,1024})\"")
_HEADER_LINE = re.compile(r"(?im)^[ \t]*(authorization|proxy-authorization|cookie|set-cookie)([ \t]*:[ \t]*)([^\r\n]+)")
_HEX = frozenset("0123456789abcdefABCDEF")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _credential(match: re.Match[str]) -> str:
    """`Bearer <token>`, `Basic <base64 user:password>`: the credential goes, the scheme stays.
    Prose ("basic authentication", "the token expired") is left alone: a Basic credential must
    decode to `user:password`, a bearer token must be long or carry a digit."""
    scheme, value = match[1].lower(), match[3]
    if scheme == "basic":
        try:
            secret = ":" in base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            secret = False
    else:
        has_digit = any("0" <= c <= "9" for c in value)
        secret = (len(value) >= 16 or has_digit) if scheme == "bearer" else (has_digit and len(value) >= 16)
    return match[1] + match[2] + FILTERED if secret else match[0]


def _card(match: re.Match[str]) -> str:
    digits = match[0].replace(" ", "").replace("-", "")
    if 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits):
        return FILTERED
    return match[0]


def _aws_secret(match: re.Match[str]) -> str:
    text = match[0]
    has_upper = any("A" <= c <= "Z" for c in text)
    has_lower = any("a" <= c <= "z" for c in text)
    has_digit = any("0" <= c <= "9" for c in text)
    # A git revision or SHA-1 is 40 hex digits: never filtered.
    if has_upper and has_lower and has_digit and not set(text) <= _HEX:
        return FILTERED
    return text


def _scrub_pem(text: str) -> str:
    """Each private key block (BEGIN to END, or to the end of a truncated text) as [Filtered];
    each character is scanned at most twice, whatever the number of BEGIN lines."""
    out: list[str] = []
    position = 0
    while True:
        begin = _PEM_BEGIN.search(text, position)
        if begin is None:
            out.append(text[position:])
            return "".join(out)
        end = _PEM_END.search(text, begin.end())
        out.append(text[position : begin.start()])
        out.append(FILTERED)
        if end is None:
            return "".join(out)
        position = end.end()


def scrub_text(text: str, policy: Policy = DEFAULT_POLICY) -> str:
    """One text (a title, a message, a header value) with every value rule applied.

    Each rule runs only when a cheap substring test says it could match: most strings in a
    report are short names and paths that no rule concerns."""
    if not policy.enabled or len(text) < 8:
        return text
    lowered = text.lower()
    if "private key" in lowered:
        text = _scrub_pem(text)
    if "://" in text:
        text = _URL_USERINFO.sub(lambda m: m[1] + FILTERED + m[3], text)
    if "=" in text:
        text = _PAIR.sub(lambda m: m[1] + m[2] + FILTERED if policy.is_sensitive(m[1]) else m[0], text)
    if '"' in text:
        text = _JSON_PAIR.sub(lambda m: f'"{m[1]}"{m[2]}"{FILTERED}"' if policy.is_sensitive(m[1]) else m[0], text)
    if "authoriz" in lowered or "cookie" in lowered:
        text = _HEADER_LINE.sub(lambda m: m[1] + m[2] + FILTERED, text)
    if "bearer" in lowered or "basic" in lowered or "token" in lowered:
        text = _CREDENTIAL.sub(_credential, text)
    if len(text) >= 16:
        text = _AWS_KEY_ID.sub(FILTERED, text)
    if len(text) >= 40:
        text = _AWS_SECRET.sub(_aws_secret, text)
    if len(text) >= 13:
        text = _CARD.sub(_card, text)
    return text


def _scrub_int(value: int) -> Any:
    if 10**12 <= value < 10**19:
        digits = str(value)
        if digits[0] in "23456" and len(set(digits)) > 1 and luhn_valid(digits):
            return FILTERED
    return value


# ---- the tree ----------------------------------------------------------------------------------------


def _filtered(value: Any) -> Any:
    """What replaces a sensitive key's value: nothing to hide in null or an empty string."""
    return value if value is None or value == "" else FILTERED


def _leaf(value: Any, policy: Policy) -> Any:
    kind = type(value)
    if kind is str:
        return scrub_text(value, policy) if len(value) >= 8 else value
    if kind is int:
        return _scrub_int(value) if value >= 10**12 else value
    return value


def scrub_tree(tree: Any, policy: Policy = DEFAULT_POLICY) -> Any:
    """A scrubbed copy of a JSON-like tree (dicts, lists, tuples, strings, numbers), at any depth.

    Iterative, so a 100,000-level nesting is no RecursionError; the input is not modified.
    Leaves are scrubbed where they are met and only containers go on the work stack (this loop
    is most of the scrubber's CPU on a typical report).
    """
    if not policy.enabled:
        return tree
    classify = policy.classify
    root: list[Any] = [None]
    # Work items: (container to fill, index or key in it, container to copy and scrub).
    stack: list[tuple[Any, Any, Any]] = [(root, 0, tree)]
    while stack:
        parent, slot, value = stack.pop()
        kind = type(value)
        if kind is dict:
            copy: dict[Any, Any] = {}
            parent[slot] = copy
            for key, child in value.items():
                verdict = classify(key) if type(key) is str else False
                if verdict:
                    copy[key] = _filtered(child)
                elif verdict is None:
                    copy[key] = child  # a safe key: kept exactly as sent
                elif type(child) in _CONTAINERS:
                    copy[key] = None
                    stack.append((copy, key, child))
                else:
                    copy[key] = _leaf(child, policy)
        elif kind is list or kind is tuple:
            items: list[Any] = list(value)
            parent[slot] = items
            if len(items) == 2 and type(items[0]) is str and classify(items[0]):
                # [name, value] pairs: how some clients send headers, cookies and params.
                items[1] = _filtered(items[1])
                continue
            for index, child in enumerate(items):
                if type(child) in _CONTAINERS:
                    stack.append((items, index, child))
                else:
                    items[index] = _leaf(child, policy)
        else:
            parent[slot] = _leaf(value, policy)
    return root[0]


_CONTAINERS = (dict, list, tuple)

"""Compact encoding of stored occurrence detail: JSON, then zlib with a preset dictionary.

Typical reports are 0.5-3 KB of JSON whose keys repeat across every report. A preset dictionary of
those keys lets zlib compress even the first bytes well, which keeps a typical occurrence item
under the 1 KB that one DynamoDB write unit buys. Each dictionary is frozen once shipped: stored
items name the codec version they were written with.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

_DICT_V1 = (
    '"frames": [{"filename": "lineno": "colno": "method": "code": "context": {"pre": "post": '
    '"locals": "exceptions": [{"type": "message": "description": "class_name": '
    '"request": {"url": "http://"https://"method": "GET" "POST" "headers": {"User-Agent": '
    '"Content-Type": "application/json" "Accept": "Host": "query_string": "params": "user_ip": '
    '"session": "env": {"REQUEST_METHOD": "HTTP_USER_AGENT": "REMOTE_ADDR": '
    '"person": {"id": "username": "email": "server": {"host": "root": "branch": "pid": "argv": '
    '"notifier": {"name": "version": "pyrollbar" "node_rollbar" "rollbar-browser-js" "crashlog" '
    '"client": {"javascript": {"browser": "Mozilla/5.0 "code_version": "source_map_enabled": '
    '"tags": "custom": "fingerprint": "platform": "browser" "language": "python 3.11" "javascript" '
    '"framework": "node-js" "browser-js" "rails" "django" "flask" "hostname": '
    '"action": "path": "duration": "status": "queue_duration": "events": [{"payload": "time": "end": '
    '"sql.active_record" "process_action.action_controller" "extra": {"attributes": [{"key": "value": '
    '"telemetry": [] "configured_options": {"endpoint": "diagnostic": {"original_arg_types": '
    '"project_id": "protocol": "rollbar" "appsignal" "client_id": "received_at": "timestamp": '
    '"kind": "error" "message" "performance" "environment": "production" "staging" "development" '
    '"level": "error" "warning" "info" "debug" "critical" "title": "group_id": '
    '"<module>" "Error" "TypeError" "ValueError" "KeyError" "RuntimeError" "NoMethodError" '
    '"ZeroDivisionError" "division by zero" ".py" ".js" ".rb" "node:internal/" "/srv/app/" '
    '"app/controllers/" "Controller#" "http_request" "background_job" null, true, false, '
)
# Client vocabulary (rollbar.js Node frames and options, the CrashLog Ruby gem's paths and system
# info). Placed first: zlib reaches the end of a dictionary most cheaply, where the commonest keys are.
_DICT_V1_CLIENTS = (
    '"[GEM_ROOT]/gems/" "[PROJECT_ROOT]/app/controllers/" "[PROJECT_ROOT]/lib/" "actionpack-" "activesupport-" '
    '"abstract_controller/base.rb" "action_controller/metal/" "process_action" "send_action" ".rb" '
    '"[FILTERED]" "ruby_version": "libraries_loaded": "application_root": "stage": "system": "username": '
    '"current_user": "session_data": "cgi_data": "parameters": "url": "rack_env": "controller": "action": '
    '"HTTP_HOST": "HTTP_ACCEPT": "SERVER_NAME": "PATH": "/usr/local/bin:/usr/bin:/bin" "RAILS_ENV": "LANG": '
    '"en_US.UTF-8" "x86_64-linux" "Ruby" "ruby" "Java" "log4j-crashlog-appender" "nodejsapp" '
    '"runtimePosition": {"source": "line": "column": "node:internal/main/run_main_module" '
    '"node:internal/modules/run_main" "Function.executeUserEntryPoint [as runMain]" '
    '"node:internal/modules/cjs/loader" "Module._load" "Module.load" "Module._extensions..js" "Module._compile" '
    '"Object.<anonymous>" "[anonymous]" "configured_options": {"endpoint": "/api/1/item/" "codeVersion": '
    '"captureUncaught": "captureUnhandledRejections": "verbose": "raw_error": {"constructor_name": "stack": "    at '
    '"context_pre": ["context_post": ['
)
_V1 = (_DICT_V1_CLIENTS + _DICT_V1).encode()
_V2 = _V1.replace(b'": ', b'":').replace(b", ", b",")
"""Version 2: version 1's words as `encode` writes them (no space after `:` and `,`), so a key and
its colon match the dictionary as one string (~40 B less on a typical report)."""
DICTIONARIES: dict[int, bytes] = {1: _V1, 2: _V2}
_WINDOW_BITS = {1: 15, 2: -15}
"""Version 1 is zlib's format; version 2 raw deflate, without the zlib header, dictionary id and
checksum (10 B an item: the item's `z` attribute already names the dictionary, and DynamoDB and S3
check what they store)."""
CURRENT = 2


def encode(value: Any, version: int = CURRENT) -> bytes:
    # surrogatepass: clients that truncate strings can cut a surrogate pair, and JSON carries the
    # lone half; it must round-trip, not fail the whole report with UnicodeEncodeError.
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
    compressor = zlib.compressobj(level=9, wbits=_WINDOW_BITS[version], zdict=DICTIONARIES[version])
    return compressor.compress(raw) + compressor.flush()


def decode(blob: bytes, version: int = CURRENT) -> Any:
    decompressor = zlib.decompressobj(wbits=_WINDOW_BITS[version], zdict=DICTIONARIES[version])
    return json.loads((decompressor.decompress(blob) + decompressor.flush()).decode("utf-8", "surrogatepass"))

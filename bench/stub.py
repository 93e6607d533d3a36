"""Answer botocore calls without HTTP or an emulator, to isolate Lodge's own CPU.

A `before-send` handler returns canned raw HTTP responses, so botocore still validates, serializes,
signs and parses every call (real per-request work in Lambda); only the network and the service are
skipped. Answers are those of the warm path: tokens resolve, a record put succeeds, an issue
counter already exists (UpdateItem returns the old count).
"""

from __future__ import annotations

import io
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse


class _Raw(io.BytesIO):
    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.getvalue()


def _response(url: str, status: int, body: bytes, headers: dict[str, str]) -> AWSResponse:
    headers_: Any = headers  # AWSResponse wraps any mapping in its own HeadersDict
    return AWSResponse(url, status, headers_, _Raw(body))


class Stub:
    def __init__(self, project_id: str = "0123456789abcdef01234567") -> None:
        from lodge import auth
        from lodge.dynamo import to_item
        from lodge.models.credentials import Credential
        from lodge.storage.credentials import credential_item
        from lodge.storage.keys import TOKEN_SK, token_pk

        self.project_id = project_id
        self.credentials: dict[str, str] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        for kind, scopes in auth.KINDS.items():
            token = str(uuid.uuid4()) if kind in ("appsignal_push", "crashlog") else secrets.token_hex(16)
            secret = secrets.token_urlsafe(30) if kind == "crashlog" else None
            self.credentials[kind] = token
            if secret:
                self.credentials["crashlog_secret"] = secret
            token_hash = auth.hash_token(token)
            credential = Credential(
                token_hash, project_id, kind, frozenset(scopes), kind, int(time.time()), secret, rate_limit=None
            )
            self.tokens[token_hash] = to_item(
                {"pk": token_pk(token_hash), "sk": TOKEN_SK, **credential_item(credential)}  # storage's own layout
            )
        self.credentials["project_id"] = project_id  # Sentry workloads name it in the path
        self.calls = 0

    def attach(self, dynamodb: Any, s3: Any) -> None:
        dynamodb.meta.events.register("before-send.dynamodb", self._dynamodb)
        s3.meta.events.register("before-send.s3", self._s3)

    def _dynamodb(self, request: Any, **kwargs: Any) -> AWSResponse:
        from lodge.storage.issues import COUNT_ATTR
        from lodge.storage.keys import ISSUE, token_pk

        self.calls += 1
        operation = request.headers.get("X-Amz-Target", b"")
        operation = (operation.decode() if isinstance(operation, bytes) else operation).rpartition(".")[2]
        body = request.body or b"{}"
        params = json.loads(body.decode() if isinstance(body, bytes) else body)
        answer: dict[str, Any] = {}
        key = params.get("Key", {})
        token_prefix = token_pk("")
        if operation == "GetItem" and key.get("pk", {}).get("S", "").startswith(token_prefix):
            item = self.tokens.get(key["pk"]["S"][len(token_prefix) :])
            answer = {"Item": item} if item else {}
        elif operation == "UpdateItem" and key.get("sk", {}).get("S", "").startswith(ISSUE):
            answer = {"Attributes": {COUNT_ATTR: {"N": "41"}}}  # an issue counted before
        headers = {"x-amzn-RequestId": "stub", "Content-Type": "application/x-amz-json-1.0"}
        return _response(request.url, 200, json.dumps(answer).encode(), headers)

    def _s3(self, request: Any, **kwargs: Any) -> AWSResponse:
        self.calls += 1
        status = 204 if request.method == "DELETE" else 200
        return _response(request.url, status, b"", {"ETag": '"0123456789abcdef"', "x-amz-request-id": "stub"})

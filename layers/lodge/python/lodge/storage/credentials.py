"""Projects and credentials. A token is stored under its hash (`TOK#<sha256>`), with a reference
in its project's partition (`TOKREF#<sha256>`, without the secret) for listing and revoking.

Stored token attributes: project, kind, scopes, label, created, rl (the per-minute rate limit,
absent for none). A CrashLog token's HMAC secret is an item of its own (`SEC#<sha256>`, `SECRET`):
IAM lets only the CrashLog functions read that prefix. Tables written before that split keep the
secret on the token item (`secret`); it is still honoured there, and `move_legacy_secrets` (CLI
`lodge token move-secrets`) moves it out.
"""

from __future__ import annotations

import time
from typing import Any

from lodge.dynamo import from_item, to_attr, to_item
from lodge.models.credentials import Credential, Project, ProjectDeletion
from lodge.storage.errors import STORAGE_FAILURES, StorageError, failing_as
from lodge.storage.keys import PROJECT_SK, SECRET_SK, TOKEN_REF, TOKEN_SK, project_pk, secret_pk, token_pk
from lodge.storage.table import Table


def to_project(item: dict[str, Any]) -> Project:
    created = item.get("created")
    return Project(id=item["id"], name=str(item.get("name") or ""), created=int(created) if created else None)


def to_credential(token_hash: str, item: dict[str, Any]) -> Credential:
    rate_limit = item.get("rl")
    created = item.get("created")
    return Credential(
        token_hash=token_hash,
        project_id=item["project"],
        kind=item.get("kind", ""),
        scopes=frozenset(item.get("scopes", ())),
        label=item.get("label", ""),
        created=int(created) if created else None,
        secret=item.get("secret"),
        rate_limit=int(rate_limit) if rate_limit else None,
    )


def credential_item(credential: Credential) -> dict[str, Any]:
    return {
        "project": credential.project_id,
        "kind": credential.kind,
        "scopes": set(credential.scopes),
        "label": credential.label,
        "created": credential.created,
        "secret": credential.secret,
        "rl": credential.rate_limit,
    }


class Credentials(Table):
    # ---- projects ------------------------------------------------------------------------------

    def put_project(self, project_id: str, name: str) -> None:
        """Create a project; ConditionalCheckFailedException when the id is taken."""
        item = {"pk": project_pk(project_id), "sk": PROJECT_SK, "name": name, "created": int(time.time())}
        taken = self.ddb.exceptions.ConditionalCheckFailedException
        try:
            self.ddb.put_item(TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        except taken:
            raise
        except STORAGE_FAILURES as error:
            raise StorageError("could not create the project") from error

    def get_project(self, project_id: str) -> dict[str, Any] | None:
        with failing_as("could not read the project"):
            response = self.ddb.get_item(
                TableName=self.table, Key=to_item({"pk": project_pk(project_id), "sk": PROJECT_SK})
            )
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        item["id"] = project_id
        return item

    def list_projects(self) -> list[dict[str, Any]]:
        """Admin only: a filtered Scan (projects are few; this never runs on an ingest path)."""
        projects = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk = :sk",
            "ExpressionAttributeValues": {":sk": to_attr(PROJECT_SK)},
        }
        with failing_as("could not list projects"):
            while True:
                response = self.ddb.scan(**request)
                for raw in response.get("Items", []):
                    item = from_item(raw)
                    item["id"] = item["pk"][4:]
                    projects.append(item)
                if "LastEvaluatedKey" not in response:
                    return sorted(projects, key=lambda p: p.get("created", 0))
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete_project(self, project_id: str) -> ProjectDeletion:
        """Admin only: tokens first (so nothing new can arrive), then every item of the project's
        partition, then its S3 detail."""
        tokens = self.list_tokens(project_id)
        for token in tokens:
            self.delete_token(project_id, token["hash"])
        items = 0
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": to_attr(project_pk(project_id))},
            "ProjectionExpression": "pk, sk",
        }
        with failing_as("could not delete the project"):
            while True:
                page = self.ddb.query(**request)
                for key in page.get("Items", []):
                    self.ddb.delete_item(TableName=self.table, Key=key)
                    items += 1
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            objects = 0
            bucket = self.config.bucket_name
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{project_id}/"):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                    objects += len(keys)
        return ProjectDeletion(tokens=len(tokens), items=items, objects=objects)

    def project(self, project_id: str) -> Project | None:
        item = self.get_project(project_id)
        return to_project(item) if item else None

    def projects(self) -> list[Project]:
        return [to_project(item) for item in self.list_projects()]

    # ---- tokens --------------------------------------------------------------------------------

    def put_token(self, token_hash: str, record: dict[str, Any]) -> None:
        """Store a token under its hash, its secret (if any) apart, and a reference in its project's
        partition for listing."""
        project_id = record["project"]
        ref = {k: v for k, v in record.items() if k != "secret"}
        with failing_as("could not store the credential"):
            if record.get("secret"):
                self.ddb.put_item(
                    TableName=self.table,
                    Item=to_item({"pk": secret_pk(token_hash), "sk": SECRET_SK, "secret": record["secret"]}),
                )
            self.ddb.put_item(TableName=self.table, Item=to_item({**ref, "pk": token_pk(token_hash), "sk": TOKEN_SK}))
            self.ddb.put_item(
                TableName=self.table,
                Item=to_item({**ref, "pk": project_pk(project_id), "sk": TOKEN_REF + token_hash}),
            )

    def get_token(self, token_hash: str) -> dict[str, Any] | None:
        """The token item; a CrashLog token's `secret` only where this function may read secrets
        (`Settings.reads_secrets`): elsewhere IAM denies the `SEC#` item, and no signature is checked."""
        with failing_as("could not look up the credential"):
            response = self.ddb.get_item(
                TableName=self.table, Key=to_item({"pk": token_pk(token_hash), "sk": TOKEN_SK})
            )
            if "Item" not in response:
                return None
            item = from_item(response["Item"])
            if item.get("kind") == "crashlog" and self.config.reads_secrets and not item.get("secret"):
                found = self.ddb.get_item(
                    TableName=self.table, Key=to_item({"pk": secret_pk(token_hash), "sk": SECRET_SK})
                )
                item["secret"] = from_item(found["Item"]).get("secret") if "Item" in found else None
        return item

    def delete_token(self, project_id: str, token_hash: str) -> None:
        with failing_as("could not revoke the credential"):
            self.ddb.delete_item(TableName=self.table, Key=to_item({"pk": token_pk(token_hash), "sk": TOKEN_SK}))
            self.ddb.delete_item(TableName=self.table, Key=to_item({"pk": secret_pk(token_hash), "sk": SECRET_SK}))
            self.ddb.delete_item(
                TableName=self.table, Key=to_item({"pk": project_pk(project_id), "sk": TOKEN_REF + token_hash})
            )

    def move_legacy_secrets(self) -> int:
        """Admin only: move secrets that tables of earlier versions kept on token items into their
        own `SEC#` items (then any function that authenticates could read them). Returns how many."""
        moved = 0
        request: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk = :sk AND attribute_exists(secret)",
            "ExpressionAttributeValues": {":sk": to_attr(TOKEN_SK)},
        }
        with failing_as("could not move the secrets"):
            while True:
                response = self.ddb.scan(**request)
                for raw in response.get("Items", []):
                    item = from_item(raw)
                    token_hash = item["pk"][len(token_pk("")) :]
                    self.ddb.put_item(
                        TableName=self.table,
                        Item=to_item({"pk": secret_pk(token_hash), "sk": SECRET_SK, "secret": item["secret"]}),
                    )
                    self.ddb.update_item(
                        TableName=self.table,
                        Key=to_item({"pk": item["pk"], "sk": TOKEN_SK}),
                        UpdateExpression="REMOVE secret",
                    )
                    moved += 1
                if "LastEvaluatedKey" not in response:
                    return moved
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def list_tokens(self, project_id: str) -> list[dict[str, Any]]:
        tokens = []
        with failing_as("could not list credentials"):
            for item in self._query_prefix(project_pk(project_id), TOKEN_REF):
                item["hash"] = item["sk"][len(TOKEN_REF) :]
                tokens.append(item)
        return tokens

    def add_credential(self, credential: Credential) -> None:
        self.put_token(credential.token_hash, credential_item(credential))

    def credential(self, token_hash: str) -> Credential | None:
        item = self.get_token(token_hash)
        return to_credential(token_hash, item) if item else None

    def credentials(self, project_id: str) -> list[Credential]:
        """A project's credentials, without their secrets."""
        return [to_credential(item["hash"], item) for item in self.list_tokens(project_id)]

    def remove_credential(self, project_id: str, token_hash: str) -> None:
        self.delete_token(project_id, token_hash)

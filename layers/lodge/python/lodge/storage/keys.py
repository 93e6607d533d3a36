"""Keys and ids of Lodge's single table (docs/storage.md has the layout and the access patterns)."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lodge.occurrence import Occurrence

RECORD_SHARDS = 16
"""Record partition keys per project: a partition key takes ~1,000 writes/s, so 16 keys let one
project's request path take ~16,000 single-event writes/s. The digest keeps one stream mark per
record partition on each issue (~25 B each): 16 keep a typical issue item under 1 KB (1 WRU)."""
PROJECT_SK = "PROJECT"
TOKEN_SK = "TOKEN"  # noqa: S105 - a sort key, not a secret
RECORD = "REC#"
ISSUE = "GRP#"
MARKER = "MRK#"
LISTING = "LST#"
FILTERED_LISTING = "LSF#"
"""Digest-written listing pages of one filter's matches (lodge.storage.listings)."""
TOKEN_REF = "TOKREF#"  # noqa: S105 - a sort key prefix


def project_pk(project_id: str) -> str:
    return f"PRJ#{project_id}"


def token_pk(token_hash: str) -> str:
    return f"TOK#{token_hash}"


SECRET_SK = "SECRET"  # noqa: S105 - a sort key, not a secret


def secret_pk(token_hash: str) -> str:
    """A CrashLog token's HMAC secret: its own partition prefix, so IAM (`dynamodb:LeadingKeys`)
    lets only the CrashLog functions read it (docs/deploy.md, "Permissions per item")."""
    return f"SEC#{token_hash}"


def rate_limit_pk(token_hash: str) -> str:
    return f"RL#{token_hash}"


def record_bucket(record_id: str) -> str:
    """Which of the project's RECORD_SHARDS partitions holds a record: derived from its id alone."""
    first = hashlib.sha256(record_id.encode("utf-8", "surrogatepass")).digest()[0]
    return f"{first % RECORD_SHARDS:x}"


def record_pk(project_id: str, record_id: str) -> str:
    """A record's partition key: derived from its id, so a read by id needs nothing but the id."""
    return f"PRJ#{project_id}#{record_bucket(record_id)}"


def record_sk(record_id: str) -> str:
    return RECORD + record_id


def record_key(project_id: str, record_id: str) -> dict[str, str]:
    return {"pk": record_pk(project_id, record_id), "sk": record_sk(record_id)}


def split_record_pk(pk: str) -> tuple[str, str]:
    """(project, bucket) of a record's partition key (the digest reads it from the stream's keys)."""
    project_id, _, bucket = pk[len("PRJ#") :].rpartition("#")
    return project_id, bucket


def listing_sk(newest_ms: int, tag: str) -> str:
    """A listing page: its newest receive time first, so a descending Query meets the newest first."""
    return f"{LISTING}{newest_ms:013d}#{tag}"


def issue_sk(issue_id: str) -> str:
    return ISSUE + issue_id


def marker_sk(marker_id: int) -> str:
    return f"{MARKER}{marker_id:019d}"


def time_key(received_ms: int) -> str:
    """A receive time in milliseconds, 13 digits (sortable as text)."""
    return f"{received_ms:013d}"


def record_id_for(occurrences: Sequence[Occurrence]) -> str:
    """One occurrence: its own id. A batch: a digest of its members' ids, so a resent batch collides."""
    if len(occurrences) == 1:
        return occurrences[0].occurrence_id
    joined = "\x00".join(sorted(o.occurrence_id for o in occurrences))
    return hashlib.sha256(("batch\x00" + joined).encode("utf-8", "surrogatepass")).hexdigest()[:24]


def occurrence_ref(record_id: str, index: int, size: int) -> str:
    """Public id of an occurrence: the record id, plus `-<index>` inside a batch."""
    return record_id if size == 1 else f"{record_id}-{index}"


def parse_ref(ref: str) -> tuple[str, int]:
    record_id, _, index = ref.partition("-")
    if not record_id or not (record_id.isascii() and record_id.isalnum()) or len(record_id) > 64:
        raise KeyError(ref)
    # ASCII digits only: str.isdigit() accepts "²" (then int() raises ValueError, a 500) and int()
    # accepts Arabic-Indic digits, which would make a second spelling of the same id.
    if index and not (index.isascii() and index.isdigit() and len(index) <= 6):
        raise KeyError(ref)
    return record_id, int(index or 0)


def new_marker_id() -> int:
    """Time-ordered integer ids (Rollbar's deploy_id is an int); the put is conditional, and a
    collision within one millisecond (1 in 1000 per pair) is retried with a fresh id."""
    return int(time.time() * 1000) * 1000 + random.randrange(1000)


CLIENT_DISCARDS = "SENTRY_DISCARDS#"
"""Per-day counters of what a project's Sentry SDKs reported dropping (client reports)."""


def discards_sk(day: str) -> str:
    return CLIENT_DISCARDS + day


ISSUE_COUNTER_SK = "ISSUECOUNTER"
"""The item (in the project's partition) whose `n` hands out item counters (issues.assign_counters)."""


# ---- issue 15 point 8: floods of one issue (lodge.storage.floods) ----------------------------------
SETTINGS_SK = "SET#scrub"
"""The project's settings item (pk PRJ#<project>): everything the request path obeys, so that it is
read with one GetItem (lodge.project_settings): the scrubbing settings, the per-issue flood limit
(both set by the CLI) and which issues are in flood (written by the digest at most once per flooding
issue per minute). Its sort key was named when scrubbing was its only setting; kept so that settings
stored before stay read. Ingest functions need GetItem on it and UpdateItem (ADD dr) on issues."""


def filtered_listing_sk(stream: str, newest_ms: int, tag: str) -> str:
    """A page of one filter's listing (`lodge.storage.listings`): the filter first, then as `listing_sk`."""
    return f"{FILTERED_LISTING}{stream}#{newest_ms:013d}#{tag}"


def page_bounds(prefix: str, low_ms: int | None, high_ms: int | None) -> tuple[str, str]:
    """The sort-key range of the pages (or tallies) under `prefix` whose newest record lies in
    [low_ms, high_ms]: the project's listing (`LST#`), a filtered one (`LSF#<listing>#`), tallies."""
    low = prefix + (f"{low_ms:013d}" if low_ms is not None else "0")
    high = prefix + (f"{high_ms:013d}" if high_ms is not None else "9" * 13) + "#~"
    return low, high


# ---- issue 16 point 3: issue listings (lodge.storage.issues, docs/storage.md "Issue listings") ----
ISSUE_INDEX = "IssuesByLastSeen"
"""The sparse GSI of the issue items: pk = the project's partition, sort key `ils` = the minute of
the issue's last occurrence. Only issue items carry `ils`, so nothing else is ever in it."""
COUNTER = "CTR#"


def counter_sk(counter: int) -> str:
    """The item that names the issue holding an item counter (Rollbar item_by_counter: one GetItem)."""
    return f"{COUNTER}{counter:012d}"


def listed_minute(last_seen: float) -> int:
    """An issue's index sort key: its last-seen minute, so a busy issue's entry moves at most once a minute."""
    return max(0, int(last_seen // 60))

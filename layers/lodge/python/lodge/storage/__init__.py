"""Storage: Lodge's single DynamoDB table (large occurrence detail in S3), behind one package.

| item       | pk                 | sk                        | module          |
|------------|--------------------|---------------------------|-----------------|
| project    | PRJ#<project>      | PROJECT                   | credentials     |
| token      | TOK#<sha256(token)>| TOKEN                     | credentials     |
| secret     | SEC#<sha256(token)>| SECRET                    | credentials (CrashLog HMAC key) |
| token ref  | PRJ#<project>      | TOKREF#<sha256(token)>    | credentials     |
| record     | PRJ#<project>#<xx> | REC#<record id>           | records (xx: from the id) |
| listing    | PRJ#<project>      | LST#<newest ms>#<tag>     | records (digest-written) |
| issue      | PRJ#<project>      | GRP#<issue id>            | issues          |
| hour bucket| PRJ#<project>      | HR#<hours since epoch>    | buckets (digest-written) |
| marker     | PRJ#<project>      | MRK#<marker id>           | markers         |
| rate limit | RL#<token hash>    | <window start>            | rate_limits     |
| discards   | PRJ#<project>      | SENTRY_DISCARDS#<day>     | client_reports  |
| console key| LODGE#CONSOLE      | SESSION_KEY               | console         |
| alert rule | PRJ#<project>      | ALR#<rule id>             | alerts          |
| alert state| PRJ#<project>      | ALD#/ALC#/ALT#...         | alerts          |
| settings   | PRJ#<project>      | SET#scrub                 | settings (scrubbing; flood limit and state: floods) |

Storage attribute names (`st`, `fs`, `ix`, `rl`, ...) appear only in this package: everything
else reads the models of `lodge.models` (and an occurrence's detail, the Occurrence's JSON form).
AWS failures are translated here into `StorageError` (docs/storage.md).

The `get_*`/`list_*`/`put_*` item methods return and take the stored items themselves; they are
for this package's tests and for migrations. Code outside reads and writes models.
"""

from __future__ import annotations

from lodge.storage.alerts import Alerts
from lodge.storage.buckets import Buckets
from lodge.storage.client_reports import ClientReports
from lodge.storage.console import Console
from lodge.storage.credentials import Credentials
from lodge.storage.errors import STORAGE_FAILURES, StorageError
from lodge.storage.floods import Floods
from lodge.storage.issues import DigestMark, GroupDelta, IssueCount, Issues
from lodge.storage.keys import new_marker_id, occurrence_ref, parse_ref, record_id_for
from lodge.storage.listings import Listings
from lodge.storage.markers import Markers
from lodge.storage.rate_limits import RateLimits
from lodge.storage.records import (
    INDEX_TEXT_LIMIT,
    S3_EXPIRE_TAG,
    PutOutcome,
    Records,
    RecordSummary,
    StoredRecord,
    index_entry,
    stored_detail,
)
from lodge.storage.settings import Settings

__all__ = [
    "INDEX_TEXT_LIMIT",
    "S3_EXPIRE_TAG",
    "STORAGE_FAILURES",
    "DigestMark",
    "GroupDelta",
    "IssueCount",
    "PutOutcome",
    "RecordSummary",
    "StorageError",
    "Store",
    "StoredRecord",
    "index_entry",
    "new_marker_id",
    "occurrence_ref",
    "parse_ref",
    "record_id_for",
    "stored_detail",
]


class Store(
    Records,
    Listings,
    Issues,
    Markers,
    Credentials,
    RateLimits,
    ClientReports,
    Console,
    Alerts,
    Settings,
    Buckets,
    Floods,
):
    """All reads and writes of Lodge's table and bucket. One instance per process is enough."""

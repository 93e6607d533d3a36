"""Every DynamoDB key and attribute name the alert items use, in one place.

| item              | pk                      | sk                   | attributes                         |
|-------------------|-------------------------|----------------------|------------------------------------|
| rule              | PRJ#<project>           | ALR#<rule id>        | rule fields (RULE_* below)         |
| delivery claim    | ALD#<rule id>           | <alert id>           | state, lease, fold decision, ttl   |
| destination-hour  | ALC#<rule id>           | <window start>       | sent, folded, sample, summary, ttl |
| regression gate   | ALT#<rule id>           | REG#<issue id>       | last alert time                    |

Claims make delivery at most once per (alert, destination): a conditional put decides who sends.
"""

from __future__ import annotations

RULE_PREFIX = "ALR#"
CLAIM_PK = "ALD#"
WINDOW_PK = "ALC#"
GATE_PK = "ALT#"
REGRESSION_GATE_SK = "REG#"

# rule attributes
RULE_NAME = "name"
RULE_KINDS = "kinds"
RULE_ENVIRONMENTS = "envs"
RULE_MIN_LEVEL = "minlvl"
RULE_DESTINATION = "dk"
RULE_URL = "url"
RULE_SECRET = "secret"  # noqa: S105 - an attribute name
RULE_EMAIL = "email"
RULE_CAP = "cap"
RULE_CREATED = "created"

# claim attributes
CLAIM_STATE = "st"
CLAIM_LEASE = "lease"
CLAIM_FOLDED = "fold"
CLAIM_ATTEMPTS = "tries"
TTL = "ttl"

# destination-hour attributes
WINDOW_SENT = "n"
WINDOW_FOLDED = "f"
WINDOW_SAMPLE = "smp"
WINDOW_SUMMARY_SENT = "ss"

# regression gate attribute
GATE_LAST = "at"

STATE_SENDING = "sending"
STATE_SENT = "sent"
STATE_FAILED = "failed"
STATE_SUPPRESSED = "suppressed"
STATE_FOLDED = "folded"

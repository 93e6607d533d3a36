"""Drive N hypothesis-generated cases per endpoint and tally what came back.

Hypothesis is used as the generator, not as the judge: the property body records every outcome and
never fails, so a run always sends exactly N cases (no shrinking, no example database) and reports
the whole histogram. The pytest subset (test_fuzz.py) judges the tallies instead.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from tests.fuzz.driver import InProcess, Outcome, log_tracebacks, runner, send_http
from tests.fuzz.endpoints import SESSION, Endpoint
from tests.fuzz.strategies import Case, cases

SLOW_CASE_SECONDS = 3.0


@dataclass
class Tally:
    endpoint: str
    cases: int = 0
    statuses: Counter[int | str] = field(default_factory=Counter)
    tracebacks: Counter[str] = field(default_factory=Counter)
    """Signature -> number of cases whose logs carried that traceback (500s and others alike)."""
    examples: dict[str, Case] = field(default_factory=dict)
    """First case seen per signature (and per anomalous status), to reproduce it."""
    slowest: float = 0.0
    slow_cases: int = 0

    @property
    def answered_500(self) -> int:
        return sum(n for status, n in self.statuses.items() if status == 500)

    @property
    def failures(self) -> int:
        """Cases the issue's rule forbids: 500, an escaped exception, a timeout, a malformed response."""
        return sum(n for status, n in self.statuses.items() if status == 500 or isinstance(status, str))

    def add(self, case: Case, outcome: Outcome) -> None:
        self.cases += 1
        self.statuses[outcome.status] += 1
        self.slowest = max(self.slowest, outcome.seconds)
        if outcome.seconds > SLOW_CASE_SECONDS:
            self.slow_cases += 1
        for signature in set(outcome.signatures):
            self.tracebacks[signature] += 1
            self.examples.setdefault(signature, case)
        if outcome.status == 500 or isinstance(outcome.status, str):
            self.examples.setdefault(f"status {outcome.status}", case)

    def histogram(self) -> str:
        ordered = sorted(self.statuses.items(), key=lambda item: (isinstance(item[0], str), str(item[0])))
        return " ".join(f"{status}:{count}" for status, count in ordered)


def _generate(endpoint: Endpoint, count: int, seed: int, send: Callable[[Case], Outcome]) -> None:
    """Exactly `count` generated cases of `endpoint`, each passed to `send` (which never fails)."""

    @hypothesis_seed(seed)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(cases(endpoint))
    def property_body(case: Case) -> None:
        send(case)

    property_body()


def fuzz_endpoint(harness: InProcess, endpoint: Endpoint, count: int, seed: int) -> Tally:
    tally = Tally(endpoint.name)

    def send(case: Case) -> Outcome:
        outcome, _response = harness.invoke(endpoint.function, case.event())
        tally.add(case, outcome)
        return outcome

    _generate(endpoint, count, seed, send)
    return tally


def fuzz_http(endpoints: list[Endpoint], count: int, seed: int, workdir: Path) -> tuple[list[Tally], Counter[str]]:
    """A share of cases over real HTTP through the local runner; tracebacks are read from its log."""
    tallies = []
    with runner(workdir) as handle:
        if any(endpoint.credentials == "console_session" for endpoint in endpoints):
            SESSION.update(console_session_over_http(handle.url))
        for endpoint in endpoints:
            tally = Tally(f"{endpoint.name} (http)")

            def send(case: Case, tally: Tally = tally) -> Outcome:
                status = send_http(handle.url, case.method, case.path, case.query, case.headers, case.body)
                # No Lodge function answers 502: from the runner it means the function crashed or
                # returned a malformed response (API Gateway's 502), which the rule forbids.
                outcome = Outcome("gateway-502" if status == 502 else status)
                tally.add(case, outcome)
                return outcome

            _generate(endpoint, count, seed, send)
            tallies.append(tally)
        logged = log_tracebacks(handle.log())
    return tallies, logged


def console_session_over_http(base_url: str) -> dict[str, str]:
    """Sign in to the runner's console as a browser does (its form, its cookies): the session
    cookie, the page's CSRF token and one stored issue and occurrence, for the signed-in cases."""
    import re

    import requests

    from lodge_devtools.demo import DEMO_CREDENTIALS
    from tests.fuzz.endpoints import BY_NAME
    from tests.fuzz.strategies import valid_case

    item = valid_case(BY_NAME["rollbar_item"], BY_NAME["rollbar_item"].seeds()[0], fresh=str(uuid.uuid4()))
    send_http(base_url, item.method, item.path, item.query, item.headers, item.body)  # an issue to look at
    browser = requests.Session()
    form = browser.get(f"{base_url}/console/signin", timeout=30)
    signin_csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert signin_csrf, form.text[:300]
    token = DEMO_CREDENTIALS["personal"]
    signed = browser.post(
        f"{base_url}/console/signin", data={"csrf": signin_csrf[1], "token": token}, allow_redirects=False, timeout=30
    )
    cookie = signed.cookies.get("lodge_session")
    assert signed.status_code == 303 and cookie, (signed.status_code, signed.text[:300])
    listing = browser.get(f"{base_url}/console/issues", timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', listing.text)
    issue = re.search(r'/console/issues/([A-Za-z0-9_-]+)"', listing.text)
    assert csrf, listing.text[:300]
    found = {"cookie": f"lodge_session={cookie}", "csrf": csrf[1], "issue": issue[1] if issue else "none"}
    if issue:
        page = browser.get(f"{base_url}/console/issues/{issue[1]}", timeout=30)
        occurrence = re.search(r'/console/occurrences/([A-Za-z0-9-]+)"', page.text)
        found["occurrence"] = occurrence[1] if occurrence else "none"
    return found

"""Console figures: page size and DynamoDB reads for the issues list (1,000 issues) and an issue page.

`python -m bench.console` (also run by `make bench`) seeds a project under moto in-process through
the real rollbar_item handler - ISSUES distinct issues, one of them with OCCURRENCES occurrences -
then renders the pages through the console handler with a signed-in session and meters every AWS
call (bench.meter). Sizes are uncompressed HTML, plus the page's CSS and JS files (cached by the
browser after the first page), and the gzip size the browser actually downloads.
"""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench import env
from bench.capture import output
from bench.meter import Meter
from bench.workload import ROOT, FakeContext, load, load_handler

ISSUES = 1000
OCCURRENCES = 30
WORKLOAD = "rollbar_python_chained"


def _seed(credentials: dict[str, str]) -> None:
    item = load_handler("rollbar_item")
    workload = load(WORKLOAD)
    for i in range(ISSUES + OCCURRENCES - 1):
        request = workload.request(credentials)
        payload = json.loads(request.body)
        number = min(i, ISSUES - 1)  # the last OCCURRENCES requests all land in the last issue
        payload["data"]["fingerprint"] = f"bench-issue-{number}"
        payload["data"]["title"] = f"ValueError: bench issue {number}"
        payload["data"]["uuid"] = str(uuid.uuid4())
        payload["data"].pop("timestamp", None)
        event = request.event()
        event["body"] = json.dumps(payload)
        event["isBase64Encoded"] = False
        response = item.lambda_handler(event, FakeContext())
        assert response["statusCode"] == 200, response


def _html(response: dict[str, Any]) -> tuple[str, int]:
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        packed = base64.b64decode(body)
        return gzip.decompress(packed).decode("utf-8"), len(packed)
    return body, len(gzip.compress(body.encode(), 6))


def run(out: Path) -> None:
    from moto import mock_aws

    with mock_aws():
        import botocore.session

        from lodge import auth, aws, config
        from lodge.console import data, session
        from lodge.storage import Store
        from lodge_devtools import emulation
        from lodge_devtools.apigw import build_event
        from lodge_devtools.streams import StreamPoller, in_process_invoke

        aws.reset()
        config.settings.cache_clear()
        emulation.provision(aws.dynamodb(), aws.s3(), env.TABLE_NAME, env.BUCKET_NAME)
        store = Store()
        project_id, credentials = auth.create_project(store, "bench console")
        with output():
            _seed(credentials)
            # Issues are counted and listed by the digest (issue 16): digest the seeded records.
            StreamPoller(aws.dynamodb(), env.TABLE_NAME, in_process_invoke()).drain()
            console = load_handler("console")
        key = data.session_key(store)
        viewer = data.sign_in(credentials["personal"], store)
        assert viewer is not None
        cookie = session.seal(key, session.new_session(viewer.project_id, viewer.token_hash))
        (busiest,) = [i for i in store.issues(project_id) if i.total_occurrences == OCCURRENCES]
        inspector = botocore.session.Session().create_client("dynamodb", region_name="us-east-1")
        key_names, index = env.table_keys()
        meter = Meter({"dynamodb": aws.dynamodb(), "s3": aws.s3()}, inspector, env.TABLE_NAME, key_names, index)
        statics = sum(
            (ROOT / "layers/lodge/python/lodge/console/static" / n).stat().st_size
            for n in ("console.css", "console.js")
        )
        pages = {
            "issues list (1,000 issues, 50 a page)": "/console/issues",
            "issue page": f"/console/issues/{busiest.id}",
        }
        results: dict[str, Any] = {
            "issues": ISSUES,
            "occurrences_of_issue": OCCURRENCES,
            "static_bytes": statics,
            "pages": {},
        }
        for label, path in pages.items():
            headers = {"cookie": f"{session.SESSION_COOKIE}={cookie}", "accept-encoding": "gzip", "host": "bench"}
            console.lambda_handler(build_event("GET", path, headers=headers), FakeContext())  # warm
            meter.start()
            with output():
                response = console.lambda_handler(build_event("GET", path, headers=headers), FakeContext())
            tally = meter.stop().summary()
            assert response["statusCode"] == 200, response
            html, gzipped = _html(response)
            results["pages"][label] = {
                "html_bytes": len(html.encode()),
                "html_gzip_bytes": gzipped,
                "page_bytes": len(html.encode()) + statics,
                "rru": tally["rru"],
                "calls": tally["by_operation"],
                "round_trips": tally["round_trips"],
            }
        out.write_text(json.dumps(results))


def measure() -> dict[str, Any]:
    """Run `run` in a fresh process with the console function's environment."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "console.json"
        done = subprocess.run(
            [env.PYTHON, "-m", "bench.console", "--worker", str(out)],
            env=env.subprocess_environment("console"),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=600,
        )
        if done.returncode != 0 or not out.exists():
            tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            return {"error": tail[0]}
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def text(results: dict[str, Any]) -> str:
    if "error" in results:
        return f"Console: not measured ({results['error'][:200]})"
    lines = [
        f"Console pages ({results['issues']} issues; CSS+JS {results['static_bytes']} B, cached after the first page)",
        f"  {'page':<40} {'HTML':>8} {'gzip':>7} {'+CSS+JS':>8} {'read units':>10}  calls",
    ]
    for label, page in results["pages"].items():
        calls = ", ".join(f"{k.split(':')[1]} x{v}" for k, v in sorted(page["calls"].items()))
        lines.append(
            f"  {label:<40} {page['html_bytes']:>8} {page['html_gzip_bytes']:>7} {page['page_bytes']:>8} "
            f"{page['rru']:>10.1f}  {calls}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        run(Path(argv[1]))
        return 0
    print(text(measure()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

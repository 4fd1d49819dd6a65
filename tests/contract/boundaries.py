"""Boundary probe of every bounded number in openapi.yaml (run by run.sh).

schemathesis draws values from the schema's own ranges; the values that
broke a backend were far outside them (expiring_within=106751991167299d made
PostgreSQL overflow a BIGINT). For every management API operation this sends
each bounded integer, duration and expiry at its bound, one past it, and at
values no 64-bit integer holds, and requires: never a 5xx, and every value
out of bounds refused with 400 naming its field.

Usage: boundaries.py OPENAPI_YAML (CONTRACT_* variables as for schemathesis).
"""

import datetime
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

import yaml

BASE = os.environ["CONTRACT_BASE_URL"]
TOKEN = os.environ["CONTRACT_ROOT_TOKEN"]
PATH_PARAMS = {
    "org_id": os.environ["CONTRACT_ORG_ID"],
    "client_id": os.environ["CONTRACT_PATH_CLIENT_ID"],
    "key_id": os.environ["CONTRACT_KEY_ID"],
    # No key has this kid: the probes of its route find nothing to remove.
    "kid": "contract-probe",
    "subject_id": "fs_0000000000000000",
    "issuer_id": "ti_00000000000000000000000000000000",
}
HUGE = [2**31, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**30, -1]


def deref(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def types(schema):
    kind = schema.get("type", [])
    return set(kind if isinstance(kind, list) else [kind])


def integer_cases(schema):
    """(raw JSON value, in bounds) for an integer schema with bounds."""
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is None and high is None:
        return []
    cases = []
    for bound, step in ((low, -1), (high, 1)):
        if bound is not None:
            cases += [(str(bound), True), (str(bound + step), False)]
    for value in HUGE:
        inside = (low is None or value >= low) and (high is None or value <= high)
        cases.append((str(value), inside))
    cases.append(("1e300", False))
    return cases


def duration_cases(limit):
    days = limit // 86_400
    inside = ["1s", f"{limit}s", f"{days}d"]
    outside = [f"{limit + 1}s", f"{days + 1}d", "106751991167299d",
               f"{2**63 - 1}s", f"{2**63}s", "-1d", "0s"]
    return [(v, True) for v in inside] + [(v, False) for v in outside]


def expiry_cases(ahead):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

    def stamp(seconds):
        return json.dumps((now + datetime.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"))

    return [(stamp(ahead - 3_600), True), (stamp(ahead + 86_400), False),
            ('"9999-12-31T23:59:59Z"', False)]


def call(method, path, query="", body=None):
    url = BASE + path + (("?" + query) if query else "")
    data = body.encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method.upper())
    request.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def check(failures, what, field, inside, status, body):
    if status >= 500:
        failures.append(f"{what}: {status} {body[:200]!r}")
    elif not inside:
        try:
            named = json.loads(body).get("field")
        except ValueError:
            named = None
        if status != 400 or named != field:
            failures.append(f"{what}: out of bounds, answered {status} field={named!r}")


def probe(doc):
    failures, sent = [], 0
    for template, item in doc["paths"].items():
        if not template.startswith("/admin/"):
            continue
        path = template.format(**PATH_PARAMS)
        for method, operation in item.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            for parameter in operation.get("parameters", []):
                parameter = deref(doc, parameter)
                if parameter.get("in") != "query":
                    continue
                schema = deref(doc, parameter.get("schema", {}))
                name = parameter["name"]
                cases = integer_cases(schema) if "integer" in types(schema) else []
                if "x-maximum-seconds" in schema:
                    cases = duration_cases(schema["x-maximum-seconds"])
                for raw, inside in cases:
                    status, body = call(method, path, f"{name}={urllib.parse.quote(raw)}")
                    sent += 1
                    check(failures, f"{method.upper()} {template}?{name}={raw}", name, inside, status, body)
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            media = content["application/json"]
            schema = deref(doc, media.get("schema", {}))
            base = media.get("example") or {}
            for name, prop in schema.get("properties", {}).items():
                prop = deref(doc, prop)
                cases = integer_cases(prop) if "integer" in types(prop) else []
                if "x-maximum-seconds-ahead" in prop:
                    cases = expiry_cases(prop["x-maximum-seconds-ahead"])
                for raw, inside in cases:
                    fields = {k: v for k, v in base.items() if k != name}
                    text = json.dumps(fields)
                    text = (text[:-1] + (", " if fields else "") + f'"{name}": {raw}}}')
                    status, body = call(method, path, body=text)
                    sent += 1
                    check(failures, f"{method.upper()} {template} {name}={raw}", name, inside, status, body)
    return failures, sent


def main():
    with open(sys.argv[1]) as handle:
        doc = yaml.safe_load(handle)
    failures, sent = probe(doc)
    for failure in failures:
        print(f"boundaries: {failure}", file=sys.stderr)
    print(f"boundaries: {sent} requests, {len(failures)} failures")
    return 1 if failures or sent == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

"""eksaudit's Firehose transform for Microsoft Sentinel's "AWS EKS" connector: each CloudWatch Logs subscription
envelope becomes NDJSON rows with exactly the columns of the connector's stream `Custom-AWSEKSLogs_CL`
(Azure/Azure-Sentinel, `Solutions/AWS EKS/Data Connectors/AWSEKS_DCR.json`), one row per audit event.

Firehose invokes it with {"records": [{"recordId", "approximateArrivalTimestamp", "data": base64}]}, each record's
data one gzip envelope as CloudWatch Logs writes it, and needs back every recordId with `result` `Ok`, `Dropped`
or `ProcessingFailed` (and base64 `data` for `Ok`), the whole answer under Lambda's 6 MB response limit:
- a `CONTROL_MESSAGE` (CloudWatch Logs checking the destination) is `Dropped`;
- a `DATA_MESSAGE` gives one row per log event that is an audit event; a log event that is not (not JSON, not an
  `audit.k8s.io` event) is skipped and counted, never failing the batch; a record with no audit event left is
  `Dropped`;
- a record that is not a readable envelope is `ProcessingFailed`: Firehose keeps it, as it came, under the
  stream's error prefix;
- a record whose rows would take the answer past the limit is `ProcessingFailed` too, so Firehose keeps it
  rather than losing it.

Unlike the connector's own template, the account, region and cluster are filled (from the envelope's `owner`, the
function's region and the log group `/aws/eks/<cluster>/cluster`; EKS audit events carry none of them) and
`RawEvent` is the whole audit event. Standard library only; packaged by eksaudit.
"""

import base64
import binascii
import datetime
import gzip
import json
import os
import re
import zlib

# Lambda's limit on a synchronous invocation's response payload.
RESPONSE_LIMIT = 6 * 1024 * 1024
# Room for what is not counted record by record: `{"records": []}` and separators, with a margin.
RESPONSE_MARGIN = 1024

CLUSTER_LOG_GROUP = re.compile(r"^/aws/eks/(?P<cluster>[^/]+)/cluster$")
# The columns of `Custom-AWSEKSLogs_CL`, in the DCR's order.
COLUMNS = (
    "TimeGenerated",
    "AwsAccountId",
    "Region",
    "ClusterName",
    "Verb",
    "User",
    "SourceIPs",
    "UserAgent",
    "ObjectRef",
    "ResponseCode",
    "Stage",
    "AuthDecision",
    "RawEvent",
)
DECISION = "authorization.k8s.io/decision"


class Malformed(Exception):
    """A record that is not a CloudWatch Logs envelope."""


def envelope_of(data):
    """The CloudWatch Logs envelope a Firehose record carries (base64 of gzip of JSON)."""
    try:
        raw = base64.b64decode(data, validate=True)
        text = gzip.decompress(raw)
        envelope = json.loads(text)
    except (binascii.Error, OSError, EOFError, zlib.error, ValueError, TypeError) as e:
        raise Malformed(f"not a gzip CloudWatch Logs envelope: {e}") from e
    if not isinstance(envelope, dict) or not isinstance(envelope.get("messageType"), str):
        raise Malformed("not a CloudWatch Logs envelope: no messageType")
    return envelope


def cluster_of(log_group):
    """`/aws/eks/<cluster>/cluster` -> `<cluster>`; `""` for any other group."""
    match = CLUSTER_LOG_GROUP.match(log_group or "")
    return match.group("cluster") if match else ""


def iso8601(millis):
    """A log event's timestamp (milliseconds since the epoch) in ISO 8601, UTC, as EKS writes its own."""
    when = datetime.datetime.fromtimestamp(millis / 1000, tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def text(value):
    """A string column: the value when it is a string, else `""`."""
    return value if isinstance(value, str) else ""


def audit_event(message):
    """The audit event a log event's message holds, or None when it holds none."""
    try:
        event = json.loads(message)
    except (ValueError, TypeError):
        return None
    if not isinstance(event, dict) or event.get("kind") != "Event":
        return None
    if not text(event.get("apiVersion")).startswith("audit.k8s.io/"):
        return None
    return event


def object_ref(ref):
    """`namespace/resource/name`, with the parts the event lacks left out (`secrets`, `kube-system/pods/web`)."""
    if not isinstance(ref, dict):
        return ""
    return "/".join(part for part in (text(ref.get(k)) for k in ("namespace", "resource", "name")) if part)


def response_code(event):
    status = event.get("responseStatus")
    code = status.get("code") if isinstance(status, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def row(event, log_event, envelope, region):
    """One `AWSEKSLogs_CL` row."""
    user = event.get("user") if isinstance(event.get("user"), dict) else {}
    annotations = event.get("annotations") if isinstance(event.get("annotations"), dict) else {}
    source_ips = event.get("sourceIPs")
    received = event.get("requestReceivedTimestamp")
    timestamp = log_event.get("timestamp")
    if isinstance(received, str) and received:
        time_generated = received
    elif isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
        time_generated = iso8601(timestamp)
    else:
        time_generated = ""
    return {
        "TimeGenerated": time_generated,
        "AwsAccountId": text(envelope.get("owner")),
        "Region": region,
        "ClusterName": cluster_of(envelope.get("logGroup")),
        "Verb": text(event.get("verb")),
        "User": text(user.get("username")),
        "SourceIPs": [ip for ip in source_ips if isinstance(ip, str)] if isinstance(source_ips, list) else [],
        "UserAgent": text(event.get("userAgent")),
        "ObjectRef": object_ref(event.get("objectRef")),
        "ResponseCode": response_code(event),
        "Stage": text(event.get("stage")),
        "AuthDecision": text(annotations.get(DECISION)),
        "RawEvent": event,
    }


def transform(data, region):
    """One record: (result, NDJSON bytes or None, audit events skipped)."""
    envelope = envelope_of(data)
    kind = envelope["messageType"]
    if kind == "CONTROL_MESSAGE":
        return "Dropped", None, 0
    if kind != "DATA_MESSAGE":
        raise Malformed(f"unknown messageType {kind!r}")
    log_events = envelope.get("logEvents")
    if not isinstance(log_events, list):
        raise Malformed("a DATA_MESSAGE without logEvents")
    lines, skipped = [], 0
    for log_event in log_events:
        event = audit_event(log_event.get("message")) if isinstance(log_event, dict) else None
        if event is None:
            skipped += 1
            continue
        lines.append(json.dumps(row(event, log_event, envelope, region), ensure_ascii=False, separators=(",", ":")))
    if not lines:
        return "Dropped", None, skipped
    return "Ok", ("\n".join(lines) + "\n").encode("utf-8"), skipped


def answer_size(entry):
    """What an entry adds to the response (its JSON and the separator before it)."""
    return len(json.dumps(entry, separators=(",", ":"))) + 2


def handler(event, context):
    region = os.environ.get("AWS_REGION", "")
    records = event.get("records") or []
    # Every record answered at least as ProcessingFailed first: what the answer needs whatever the rows weigh.
    failed = [{"recordId": r.get("recordId"), "result": "ProcessingFailed"} for r in records]
    size = RESPONSE_MARGIN + sum(answer_size(f) for f in failed)
    out = []
    counts = {"Ok": 0, "Dropped": 0, "ProcessingFailed": 0, "rows": 0, "skipped": 0, "malformed": 0, "too_big": 0}
    for record, fallback in zip(records, failed):
        try:
            result, lines, skipped = transform(record.get("data"), region)
        except Malformed as e:
            counts["malformed"] += 1
            print(json.dumps({"recordId": record.get("recordId"), "result": "ProcessingFailed", "why": str(e)}))
            out.append(fallback)
            counts["ProcessingFailed"] += 1
            continue
        entry = {"recordId": record.get("recordId"), "result": result}
        if lines is not None:
            entry["data"] = base64.b64encode(lines).decode("ascii")
        extra = answer_size(entry) - answer_size(fallback)
        if size + extra > RESPONSE_LIMIT:
            # Firehose keeps a failed record under the error prefix; an answer past the limit would fail them all.
            counts["too_big"] += 1
            out.append(fallback)
            counts["ProcessingFailed"] += 1
            continue
        size += extra
        out.append(entry)
        counts[result] += 1
        counts["skipped"] += skipped
        counts["rows"] += lines.count(b"\n") if lines else 0
    print(json.dumps({"records": len(records), **counts}))
    return {"records": out}

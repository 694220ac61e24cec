"""eksaudit's alert function: one SNS message per Kubernetes audit event that the alerts subscription filter
forwards (a person changing RBAC or secrets, or exec-ing into a pod, where it matters).

CloudWatch Logs invokes it with {"awslogs": {"data": base64(gzip(envelope))}}. Every event of a batch is handled;
an event that is not a readable audit event is logged and skipped, never failing the batch; a failure to publish
raises, so Lambda retries the invocation. Packaged by eksaudit (no dependency beyond the runtime's boto3).
"""

import base64
import gzip
import json
import logging
import os

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

# SNS: a subject is at most 100 printable ASCII characters.
SUBJECT_MAX = 100

_sns = None


def sns_client():
    """The SNS client, made once per execution environment (tests put their own in `_sns`)."""
    global _sns
    if _sns is None:
        import boto3

        _sns = boto3.client("sns")
    return _sns


def decode(event):
    """The CloudWatch Logs envelope inside a subscription invocation."""
    return json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))


def cluster_of(log_group):
    """`/aws/eks/<cluster>/cluster` -> `<cluster>`; any other group is named as it is."""
    parts = log_group.split("/")
    if len(parts) == 5 and parts[:3] == ["", "aws", "eks"] and parts[4] == "cluster":
        return parts[3]
    return log_group


def _text(value):
    return "-" if value in (None, "", []) else str(value)


def _subject(text):
    printable = "".join(c if " " <= c <= "~" else "?" for c in text)
    return printable if len(printable) <= SUBJECT_MAX else printable[: SUBJECT_MAX - 3] + "..."


def alert(audit, envelope, region):
    """(subject, body) for one audit event; raises ValueError when it is not an audit event."""
    if not isinstance(audit, dict) or not isinstance(audit.get("verb"), str):
        raise ValueError("not a Kubernetes audit event (no verb)")
    user = audit.get("user") or {}
    ref = audit.get("objectRef") or {}
    if not isinstance(user, dict) or not isinstance(ref, dict):
        raise ValueError("user or objectRef is not an object")
    extra = user.get("extra") or {}
    resource = _text(ref.get("resource"))
    if ref.get("subresource"):
        resource = f"{resource}/{ref['subresource']}"
    namespace, name = ref.get("namespace"), _text(ref.get("name"))
    target = f"{namespace}/{name}" if namespace else name
    cluster = cluster_of(envelope.get("logGroup", ""))
    username = _text(user.get("username"))
    subject = _subject(f"EKS manual change: {audit['verb']} {resource} {target} in {cluster} by {username}")
    fields = [
        ("Cluster", cluster),
        ("Region", region),
        ("Account", envelope.get("owner")),
        ("User", username),
        ("Groups", ", ".join(user.get("groups") or [])),
        ("Session name", ", ".join(extra.get("sessionName") or []) if isinstance(extra, dict) else None),
        ("Verb", audit["verb"]),
        ("Resource", resource),
        ("Namespace", namespace),
        ("Name", name),
        ("Source IPs", ", ".join(audit.get("sourceIPs") or [])),
        ("User agent", audit.get("userAgent")),
        ("Response code", (audit.get("responseStatus") or {}).get("code")),
        ("Audit ID", audit.get("auditID")),
        ("Timestamp", audit.get("stageTimestamp") or audit.get("requestReceivedTimestamp")),
        ("Request URI", audit.get("requestURI")),
    ]
    body = "\n".join(f"{label}: {_text(value)}" for label, value in fields) + "\n"
    return subject, body


def handler(event, context):
    envelope = decode(event)
    if envelope.get("messageType") == "CONTROL_MESSAGE":
        # CloudWatch Logs checking the destination is reachable: nothing to alert on.
        return {"published": 0, "skipped": 0}
    topic = os.environ["TOPIC_ARN"]
    region = os.environ.get("AWS_REGION", "-")
    published = skipped = 0
    for log_event in envelope.get("logEvents") or []:
        try:
            subject, body = alert(json.loads(log_event["message"]), envelope, region)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            LOG.error("skipping event %s of %s: %s", log_event.get("id"), envelope.get("logStream"), e)
            skipped += 1
            continue
        # Not caught: a failed publish fails the invocation, and Lambda retries it.
        sns_client().publish(TopicArn=topic, Subject=subject, Message=body)
        published += 1
    LOG.info("published %d alert(s), skipped %d malformed event(s)", published, skipped)
    return {"published": published, "skipped": skipped}

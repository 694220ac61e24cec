"""Unit tests of the Sentinel transform on Firehose transformation events built from the EKS audit events in
../alerts/testdata (the same real-shaped events the alert function is tested on): every answer is read back as
Firehose reads it (one entry per recordId) and as Sentinel reads the rows (NDJSON with the DCR's columns).
Run: .venv-moto/bin/python -m unittest discover -s lambda/sentinel (scripts/test.sh does).
"""

import base64
import gzip
import json
import os
import sys
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import handler  # noqa: E402

TESTDATA = os.path.join(HERE, "..", "alerts", "testdata")
with open(os.path.join(TESTDATA, "eks-audit-events.jsonl")) as f:
    EVENTS = [line for line in f.read().splitlines() if line.strip()]
REGION = "eu-central-1"
TIMESTAMP = 1795600800000  # 2026-11-25T10:00:00Z, after the events' own times


def envelope(messages, log_group="/aws/eks/prod-1/cluster", kind="DATA_MESSAGE"):
    return {
        "messageType": kind,
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": "kube-apiserver-audit-0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "subscriptionFilters": ["eks-audit"],
        "logEvents": [
            {"id": str(37812634712620 + i), "timestamp": TIMESTAMP + i, "message": m} for i, m in enumerate(messages)
        ],
    }


def record_data(doc):
    """What CloudWatch Logs hands Firehose: gzip of the envelope's JSON, base64 in the transformation event."""
    return base64.b64encode(gzip.compress(json.dumps(doc).encode("utf-8"))).decode("ascii")


def invoke(*datas):
    event = {
        "invocationId": "invocation-1",
        "deliveryStreamArn": "arn:aws:firehose:eu-central-1:123456789012:deliverystream/eks-audit",
        "region": REGION,
        "records": [
            {"recordId": f"record-{i}", "approximateArrivalTimestamp": TIMESTAMP, "data": d} for i, d in enumerate(datas)
        ],
    }
    with mock.patch.dict(os.environ, {"AWS_REGION": REGION}):
        with mock.patch("builtins.print"):
            answer = handler.handler(event, None)
    ids = [r["recordId"] for r in answer["records"]]
    assert ids == [r["recordId"] for r in event["records"]], ids
    return answer["records"]


def rows(entry):
    assert entry["result"] == "Ok", entry
    text = base64.b64decode(entry["data"]).decode("utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def assert_dcr_types(test, row):
    test.assertEqual(list(row), list(handler.COLUMNS))
    for column in ("TimeGenerated", "AwsAccountId", "Region", "ClusterName", "Verb", "User", "UserAgent",
                   "ObjectRef", "Stage", "AuthDecision"):
        test.assertIsInstance(row[column], str, column)
    test.assertIsInstance(row["SourceIPs"], list)
    test.assertTrue(row["ResponseCode"] is None or type(row["ResponseCode"]) is int)
    test.assertIsInstance(row["RawEvent"], dict)


class Rows(unittest.TestCase):
    def test_every_audit_event_of_a_batch_becomes_one_row_with_every_column(self):
        answer = invoke(record_data(envelope(EVENTS[:4])), record_data(envelope(EVENTS[4:], log_group="/aws/eks/stage_2/cluster")))
        first, second = rows(answer[0]), rows(answer[1])
        self.assertEqual(len(first) + len(second), len(EVENTS))
        for row, line in zip(first + second, EVENTS):
            assert_dcr_types(self, row)
            self.assertEqual(row["RawEvent"], json.loads(line))
            self.assertEqual(row["AwsAccountId"], "123456789012")
            self.assertEqual(row["Region"], REGION)
        self.assertEqual({r["ClusterName"] for r in first}, {"prod-1"})
        self.assertEqual({r["ClusterName"] for r in second}, {"stage_2"})
        secret = first[0]
        self.assertEqual(
            {k: v for k, v in secret.items() if k != "RawEvent"},
            {
                "TimeGenerated": "2026-11-20T10:00:00.000000Z",
                "AwsAccountId": "123456789012",
                "Region": REGION,
                "ClusterName": "prod-1",
                "Verb": "create",
                "User": "kubernetes-admin",
                "SourceIPs": ["203.0.113.10"],
                "UserAgent": "kubectl/v1.31.0 (linux/amd64) kubernetes/abc1234",
                "ObjectRef": "kube-system/secrets/db-password",
                "ResponseCode": 201,
                "Stage": "ResponseComplete",
                "AuthDecision": "allow",
            },
        )

    def test_absent_parts_are_left_out_and_the_log_events_time_stands_in(self):
        event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "list", "stage": "ResponseComplete",
                 "objectRef": {"resource": "namespaces"}, "user": {}}
        (row,) = rows(invoke(record_data(envelope([json.dumps(event)], log_group="/custom/group")))[0])
        assert_dcr_types(self, row)
        self.assertEqual(row["ObjectRef"], "namespaces")
        self.assertEqual(row["TimeGenerated"], "2026-11-25T10:00:00.000000Z")
        self.assertEqual(row["ClusterName"], "")
        self.assertEqual(row["User"], "")
        self.assertEqual(row["SourceIPs"], [])
        self.assertIsNone(row["ResponseCode"])
        self.assertEqual(row["AuthDecision"], "")
        ref = {"namespace": "default", "name": "web"}
        self.assertEqual(handler.object_ref(ref), "default/web")
        self.assertEqual(handler.object_ref({"namespace": "", "resource": "pods", "name": "web"}), "pods/web")
        self.assertEqual(handler.object_ref(None), "")

    def test_unicode_survives_as_utf8(self):
        event = json.loads(EVENTS[0])
        event["user"]["username"] = "zoë@例え.jp 🚀"
        event["objectRef"]["name"] = "naïve-ключ"
        (row,) = rows(invoke(record_data(envelope([json.dumps(event, ensure_ascii=False)])))[0])
        self.assertEqual(row["User"], "zoë@例え.jp 🚀")
        self.assertEqual(row["ObjectRef"], "kube-system/secrets/naïve-ключ")
        self.assertEqual(row["RawEvent"], event)


class Results(unittest.TestCase):
    def test_a_control_message_is_dropped(self):
        control = envelope(["CWL CONTROL MESSAGE: Checking health of destination Firehose."], kind="CONTROL_MESSAGE")
        (entry,) = invoke(record_data(control))
        self.assertEqual(entry, {"recordId": "record-0", "result": "Dropped"})

    def test_messages_that_are_not_audit_events_are_skipped_and_counted_never_failing_the_batch(self):
        messages = ["plain text", "{\"kind\": \"Status\"}", "[1, 2]", "{not json", EVENTS[0],
                    json.dumps({"kind": "Event", "apiVersion": "v1"})]
        event = {"records": [{"recordId": "a", "data": record_data(envelope(messages))}]}
        with mock.patch.dict(os.environ, {"AWS_REGION": REGION}), mock.patch("builtins.print") as printed:
            (entry,) = handler.handler(event, None)["records"]
        self.assertEqual(len(rows(entry)), 1)
        summary = json.loads(printed.call_args_list[-1].args[0])
        self.assertEqual((summary["skipped"], summary["rows"], summary["Ok"]), (5, 1, 1))
        (only_noise,) = invoke(record_data(envelope(["plain text"])))
        self.assertEqual(only_noise, {"recordId": "record-0", "result": "Dropped"})

    def test_malformed_records_fail_alone_and_firehose_keeps_them(self):
        good = record_data(envelope(EVENTS[:1]))
        bad = [
            "not base64!",
            base64.b64encode(b"not gzip").decode(),
            base64.b64encode(gzip.compress(b"not json")).decode(),
            base64.b64encode(gzip.compress(b"[1]")).decode(),
            record_data({"messageType": "DATA_MESSAGE", "owner": "1"}),
            record_data({"messageType": "SOMETHING_ELSE"}),
        ]
        answer = invoke(good, *bad, good)
        self.assertEqual([e["result"] for e in answer], ["Ok"] + ["ProcessingFailed"] * len(bad) + ["Ok"])
        self.assertTrue(all("data" not in e for e in answer[1:-1]))

    def test_an_empty_batch_answers_empty(self):
        self.assertEqual(invoke(), [])

    def test_a_batch_near_the_size_limit_stays_under_it_and_fails_only_what_does_not_fit(self):
        event = json.loads(EVENTS[0])
        event["requestObject"] = {"padding": "x" * 4000}
        # Each record about 0.5 MB of rows once base64'd; 20 of them are far past 6 MB.
        batch = record_data(envelope([json.dumps(event)] * 90))
        answer = invoke(*[batch] * 20)
        size = len(json.dumps({"records": answer}, separators=(",", ":")))
        self.assertLess(size, handler.RESPONSE_LIMIT)
        results = [e["result"] for e in answer]
        ok = results.count("Ok")
        self.assertGreater(ok, 5)
        self.assertEqual(results, ["Ok"] * ok + ["ProcessingFailed"] * (20 - ok))
        self.assertGreater(size, handler.RESPONSE_LIMIT - 600 * 1024, "filled close to the limit")


if __name__ == "__main__":
    unittest.main()

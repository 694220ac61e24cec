"""Unit tests of the alert function on CloudWatch Logs envelopes (gzip + base64) built from testdata/, publishing
to a local moto's SNS. Each case asserts exactly the SNS messages it produces, read back through an SQS queue
subscribed to the topic. Run: .venv-moto/bin/python -m unittest discover -s lambda/alerts (scripts/test.sh does).
"""

import base64
import copy
import gzip
import json
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.request

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import handler  # noqa: E402

REGION = "eu-central-1"
with open(os.path.join(HERE, "testdata", "cloudwatch-envelope.json")) as f:
    ENVELOPE = json.load(f)
with open(os.path.join(HERE, "testdata", "eks-audit-events.jsonl")) as f:
    EVENTS = [line for line in f.read().splitlines() if line.strip()]
# The events the default alert pattern (users kubernetes-admin and arn:aws:sts::*, namespaces kube-system and
# default) forwards: the secret create, the cluster-role-binding create, the pod exec. crates/plan checks the
# pattern selects exactly these (`the_default_alert_pattern_forwards_the_manual_changes_of_the_testdata`).
SECRET, BINDING, EXEC = EVENTS[0], EVENTS[3], EVENTS[5]

SECRET_BODY = """Cluster: prod-1
Region: eu-central-1
Account: 123456789012
User: kubernetes-admin
Groups: system:masters, system:authenticated
Session name: alice
Verb: create
Resource: secrets
Namespace: kube-system
Name: db-password
Source IPs: 203.0.113.10
User agent: kubectl/v1.31.0 (linux/amd64) kubernetes/abc1234
Response code: 201
Audit ID: 0b1e4c2a-1111-4c1e-9d7a-000000000001
Timestamp: 2026-11-20T10:00:00.012000Z
Request URI: /api/v1/namespaces/kube-system/secrets
"""


def invocation(envelope):
    """What CloudWatch Logs hands a Lambda subscription: {"awslogs": {"data": base64(gzip(json))}}."""
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(envelope).encode())).decode()}}


def envelope_of(messages):
    e = copy.deepcopy(ENVELOPE)
    e["subscriptionFilters"] = ["eks-audit-alerts"]
    e["logEvents"] = [
        {"id": str(37812634712620 + i), "timestamp": 1795600800000 + i, "message": m} for i, m in enumerate(messages)
    ]
    return e


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HandlerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cls.endpoint = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(cls.endpoint + "/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("moto did not start")
        os.environ.update(
            AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION
        )

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait()

    def setUp(self):
        urllib.request.urlopen(urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST"))
        client = lambda service: boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)  # noqa: E731
        self.sns, self.sqs = client("sns"), client("sqs")
        self.topic = self.sns.create_topic(Name="eks-audit-alerts")["TopicArn"]
        self.queue = self.sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn)
        os.environ["TOPIC_ARN"] = self.topic
        handler._sns = self.sns

    def published(self):
        """Every (subject, message) the topic delivered, in order."""
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return out
            for m in messages:
                body = json.loads(m["Body"])
                out.append((body.get("Subject"), body["Message"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])

    def test_one_event_is_one_alert_with_every_field(self):
        result = handler.handler(invocation(envelope_of([SECRET])), None)
        self.assertEqual(result, {"published": 1, "skipped": 0})
        self.assertEqual(
            self.published(),
            [("EKS manual change: create secrets kube-system/db-password in prod-1 by kubernetes-admin", SECRET_BODY)],
        )

    def test_every_event_of_a_batch_is_an_alert(self):
        result = handler.handler(invocation(envelope_of([SECRET, BINDING, EXEC])), None)
        self.assertEqual(result, {"published": 3, "skipped": 0})
        subjects = [s for s, _ in self.published()]
        self.assertEqual(
            subjects,
            [
                "EKS manual change: create secrets kube-system/db-password in prod-1 by kubernetes-admin",
                "EKS manual change: create clusterrolebindings cluster-admin-bob in prod-1 by kubernetes-admin",
                "EKS manual change: create pods/exec default/web-0 in prod-1 by arn:aws:sts::123456789012:assumed-...",
            ],
        )
        self.assertTrue(all(len(s) <= handler.SUBJECT_MAX for s in subjects))

    def test_a_malformed_event_is_skipped_and_the_rest_published(self):
        not_json = "{this is not json"
        not_audit = json.dumps({"kind": "Event", "stage": "ResponseComplete"})
        with self.assertLogs(handler.LOG, level="ERROR") as logs:
            result = handler.handler(invocation(envelope_of([SECRET, not_json, not_audit, "[1, 2]", EXEC])), None)
        self.assertEqual(result, {"published": 2, "skipped": 3})
        self.assertEqual(len(logs.records), 3)
        self.assertIn("skipping event 37812634712621", logs.output[0])
        subjects = [s for s, _ in self.published()]
        self.assertEqual(len(subjects), 2)
        self.assertIn("secrets kube-system/db-password", subjects[0])
        self.assertIn("pods/exec default/web-0", subjects[1])

    def test_a_control_message_publishes_nothing(self):
        control = {
            "messageType": "CONTROL_MESSAGE",
            "owner": "CloudwatchLogs",
            "logGroup": "",
            "logStream": "",
            "subscriptionFilters": [],
            "logEvents": [
                {"id": "", "timestamp": 1795600800000, "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda function."}
            ],
        }
        self.assertEqual(handler.handler(invocation(control), None), {"published": 0, "skipped": 0})
        self.assertEqual(self.published(), [])

    def test_a_failed_publish_fails_the_invocation_so_lambda_retries(self):
        os.environ["TOPIC_ARN"] = self.topic + "-gone"
        with self.assertRaises(Exception) as raised:
            handler.handler(invocation(envelope_of([SECRET])), None)
        self.assertIn("NotFound", type(raised.exception).__name__ + str(raised.exception))
        self.assertEqual(self.published(), [])

    def invoke_async(self, event, dead_letter_queue):
        """What Lambda does with an asynchronous invocation (CloudWatch Logs invokes so): the first attempt and two
        retries; when all three raise, the event itself goes to the function's dead-letter queue with the error as
        message attributes. Returns the attempts made."""
        for attempt in range(1, 4):
            try:
                handler.handler(event, None)
                return attempt
            except Exception as e:  # noqa: BLE001 - Lambda catches everything the function raises
                error = e
        self.sqs.send_message(
            QueueUrl=dead_letter_queue,
            MessageBody=json.dumps(event),
            MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": "c0ffee00-0000-4000-8000-000000000001"},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": str(error)[:256]},
            },
        )
        return 3

    def test_a_publish_failing_past_the_retries_lands_in_the_dead_letter_queue_and_replays(self):
        dead_letter = self.sqs.create_queue(QueueName="eks-audit-alerts-dlq")["QueueUrl"]
        event = invocation(envelope_of([BINDING]))
        os.environ["TOPIC_ARN"] = self.topic + "-gone"
        self.assertEqual(self.invoke_async(event, dead_letter), 3, "every attempt failed")
        self.assertEqual(self.published(), [])
        got = self.sqs.receive_message(
            QueueUrl=dead_letter, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        )["Messages"]
        self.assertEqual(len(got), 1, "the alert waits in the dead-letter queue instead of vanishing")
        self.assertEqual(json.loads(got[0]["Body"]), event)
        self.assertIn("NotFound", got[0]["MessageAttributes"]["ErrorMessage"]["StringValue"])

        # The README's replay: the message body is the invocation; once the topic is fixed, run it again.
        os.environ["TOPIC_ARN"] = self.topic
        self.assertEqual(handler.handler(json.loads(got[0]["Body"]), None), {"published": 1, "skipped": 0})
        self.sqs.delete_message(QueueUrl=dead_letter, ReceiptHandle=got[0]["ReceiptHandle"])
        subjects = [s for s, _ in self.published()]
        self.assertEqual(
            subjects, ["EKS manual change: create clusterrolebindings cluster-admin-bob in prod-1 by kubernetes-admin"]
        )

    def test_a_publish_that_recovers_on_a_retry_sends_nothing_to_the_dead_letter_queue(self):
        dead_letter = self.sqs.create_queue(QueueName="eks-audit-alerts-dlq")["QueueUrl"]
        calls = []
        publish = self.sns.publish

        def flaky(**kwargs):
            calls.append(kwargs["Subject"])
            if len(calls) == 1:
                raise RuntimeError("throttled")
            return publish(**kwargs)

        self.sns.publish = flaky
        try:
            self.assertEqual(self.invoke_async(invocation(envelope_of([SECRET])), dead_letter), 2)
        finally:
            del self.sns.publish
        self.assertEqual(len(self.published()), 1)
        self.assertNotIn("Messages", self.sqs.receive_message(QueueUrl=dead_letter, WaitTimeSeconds=0))

    def test_subjects_are_what_sns_accepts(self):
        long = json.loads(SECRET)
        long["objectRef"]["name"] = "x" * 200 + "\u00e9\n"
        subject, _ = handler.alert(long, ENVELOPE, REGION)
        self.assertEqual(len(subject), handler.SUBJECT_MAX)
        self.assertTrue(all(" " <= c <= "~" for c in subject))
        self.assertTrue(subject.endswith("..."))


if __name__ == "__main__":
    unittest.main()

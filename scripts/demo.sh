#!/usr/bin/env bash
# The whole story against a local AWS (moto): fake EKS clusters, validate, plan, apply, an audit event flowing
# through to S3, plan with no changes, a change by hand that plan and drift report, apply repairing it, destroy.
# Nothing leaves this machine: every call goes to moto on a loopback port.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-moto.sh >/dev/null
cargo build --quiet
bin="$PWD/target/debug/eksaudit"
venv="$PWD/.venv-moto"
cargo build --quiet -p eksaudit-test-support --bin local-aws

work=$(mktemp -d)
# local-aws runs moto behind the test suite's proxy until its standard input (fd 3 here) closes.
exec 3> >("$PWD/target/debug/local-aws" > "$work/endpoints")
trap 'exec 3>&-; sleep 0.5; rm -rf "$work"' EXIT
for _ in $(seq 300); do [ "$(wc -l < "$work/endpoints")" -ge 2 ] && break; sleep 0.1; done
endpoint=$(sed -n 1p "$work/endpoints")
moto=$(sed -n 2p "$work/endpoints")
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=eu-central-1 \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

echo "the local AWS (moto) listens on $endpoint; creating EKS clusters prod-1 (audit logging on) and stage-a (off)"
"$venv/bin/python" - "$moto" <<'PY'
import sys, boto3
eks = boto3.client("eks", endpoint_url=sys.argv[1], region_name="eu-central-1")
for name, audit in (("prod-1", True), ("stage-a", False)):
    eks.create_cluster(name=name, roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={"subnetIds": ["subnet-1"]},
                       logging={"clusterLogging": [{"types": ["audit"], "enabled": audit}]})
PY
cp config.example.toml "$work/eksaudit.toml"
head -n 1 tests/data/eks-audit-events.jsonl > "$work/event.json"
sed -i 's/enable_audit_logging = false/enable_audit_logging = true/' "$work/eksaudit.toml"
cd "$work"
step eksaudit validate
"$bin" validate
step eksaudit plan
"$bin" --endpoint-url "$endpoint" --s3-path-style plan
step eksaudit apply --auto-approve
"$bin" --endpoint-url "$endpoint" --s3-path-style apply --auto-approve

echo
echo "an EKS audit event is written to stage-a's audit log stream; the subscription filter and Firehose carry it to S3"
"$venv/bin/python" - "$moto" "$PWD" <<'PY'
import sys, time, boto3
moto, here = sys.argv[1], sys.argv[2]
logs = boto3.client("logs", endpoint_url=moto, region_name="eu-central-1")
s3 = boto3.client("s3", endpoint_url=moto, region_name="eu-central-1")
event = open(here + "/event.json").read().strip()
logs.create_log_stream(logGroupName="/aws/eks/stage-a/cluster", logStreamName="kube-apiserver-audit-demo")
logs.put_log_events(logGroupName="/aws/eks/stage-a/cluster", logStreamName="kube-apiserver-audit-demo",
                    logEvents=[{"timestamp": int(time.time() * 1000), "message": event}])
bucket = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].endswith("eu-central-1")][0]
for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
    print(f"  s3://{bucket}/{obj['Key']} ({obj['Size']} bytes)")
PY
step eksaudit plan
"$bin" --endpoint-url "$endpoint" --s3-path-style plan

echo
echo "someone removes stage-a's subscription filter by hand"
"$venv/bin/python" - "$moto" <<'PY'
import sys, boto3
logs = boto3.client("logs", endpoint_url=sys.argv[1], region_name="eu-central-1")
logs.delete_subscription_filter(logGroupName="/aws/eks/stage-a/cluster", filterName="eks-audit")
PY
step eksaudit plan
"$bin" --endpoint-url "$endpoint" --s3-path-style plan
step eksaudit drift
"$bin" --endpoint-url "$endpoint" --s3-path-style drift || echo "(exit $?: drift found)"
step eksaudit apply --auto-approve
"$bin" --endpoint-url "$endpoint" --s3-path-style apply --auto-approve
step eksaudit drift
"$bin" --endpoint-url "$endpoint" --s3-path-style drift
step eksaudit destroy --auto-approve
"$bin" --endpoint-url "$endpoint" --s3-path-style destroy --auto-approve

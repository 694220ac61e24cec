#!/usr/bin/env bash
# The main job against a local AWS (moto): fake EKS clusters, then eksaudit validate and plan.
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
sed -i 's/enable_audit_logging = false/enable_audit_logging = true/' "$work/eksaudit.toml"
cd "$work"
step eksaudit validate
"$bin" validate
step eksaudit plan
"$bin" --endpoint-url "$endpoint" plan || true

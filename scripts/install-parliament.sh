#!/usr/bin/env bash
# Installs Parliament (duo-labs' IAM policy linter) into .venv-parliament at the project root, for the test that
# lints every policy document eksaudit can write (tests/it/parliament.rs). Its own virtualenv: Parliament brings
# boto3, which the schema validators' environment does not need. Pinned with everything it imports, so a run means
# the same thing everywhere. Idempotent: does nothing when the pinned versions are already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${EKSAUDIT_PARLIAMENT_VENV:-$root/.venv-parliament}"
pins=(
  "parliament==1.6.4"
  "boto3==1.44.5"
  "botocore==1.44.5"
  "jmespath==1.1.0"
  "json-cfg==0.4.2"
  "kwonly-args==1.0.10"
  "python-dateutil==2.9.0.post0"
  "PyYAML==6.0.3"
  "s3transfer==0.19.3"
  "six==1.17.0"
  "urllib3==2.8.0"
)
# shellcheck source=scripts/pinned-venv.sh
source "$root/scripts/pinned-venv.sh"
ensure_pinned_venv "parliament" "$venv" "parliament" "${pins[@]}"

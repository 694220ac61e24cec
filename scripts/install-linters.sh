#!/usr/bin/env bash
# Installs the linters security teams run over deployment files, which the deploy/ tests run (tests/it/deploy.rs),
# into .venv-linters at the project root:
# - checkov: the Kubernetes manifest's CKV_K8S_* checks (service-account tokens, privileges, resources);
# - zizmor: GitHub Actions workflow audits (unpinned actions, template injection, credential persistence),
#   run offline.
# Pinned, so a run means the same thing everywhere. Idempotent: does nothing when the pinned versions are there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${EKSAUDIT_LINTERS_VENV:-$root/.venv-linters}"
pins=(
  "checkov==3.3.30"
  "zizmor==1.32.0"
)
# shellcheck source=scripts/pinned-venv.sh
source "$root/scripts/pinned-venv.sh"
ensure_pinned_venv "deploy linters" "$venv" "checkov zizmor" "${pins[@]}"

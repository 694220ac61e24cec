#!/usr/bin/env bash
# Installs the offline schema validators the deploy/ tests use (tests/it/deploy.rs) into .venv-validators at the
# project root:
# - kubernetes-validate: ships the Kubernetes JSON schemas (strict variants reject unknown fields) for many
#   Kubernetes versions inside the package, so validating deploy/kubernetes/ needs no network;
# - check-jsonschema: ships a vendored copy of the GitHub workflow schema (--builtin-schema
#   vendor.github-workflows) for deploy/github-actions/.
# Pinned, with the libraries that decide what passes (schema engine, YAML parsers), so a run means the same
# thing everywhere. Idempotent: does nothing when the pinned versions are already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${EKSAUDIT_VALIDATORS_VENV:-$root/.venv-validators}"
pins=(
  "kubernetes-validate==1.37.0"
  "check-jsonschema==0.39.0"
  "jsonschema==4.26.0"
  "referencing==0.37.0"
  "PyYAML==6.0.3"
  "ruamel.yaml==0.19.1"
)
# shellcheck source=scripts/pinned-venv.sh
source "$root/scripts/pinned-venv.sh"
ensure_pinned_venv "schema validators" "$venv" "kubernetes-validate check-jsonschema" "${pins[@]}"

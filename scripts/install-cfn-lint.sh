#!/usr/bin/env bash
# Installs cfn-lint, which checks the StackSet template `eksaudit policy --for member-role --format cloudformation`
# prints (tests/it/accounts.rs), into .venv-cfn-lint at the project root. Pinned, so a run means the same thing
# everywhere (its resource specifications are part of the release). Idempotent: does nothing when it is there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${EKSAUDIT_CFN_LINT_VENV:-$root/.venv-cfn-lint}"
pins=(
  "cfn-lint==1.51.0"
)
# shellcheck source=scripts/pinned-venv.sh
source "$root/scripts/pinned-venv.sh"
ensure_pinned_venv "cfn-lint" "$venv" "cfn-lint" "${pins[@]}"

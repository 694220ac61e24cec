# Sourced by the install-*.sh scripts: `ensure_pinned_venv WHAT VENV "BIN1 BIN2" PIN...` makes VENV hold exactly
# the pinned versions (package==version), with each BIN in VENV/bin. Idempotent: does nothing when they are there.
ensure_pinned_venv() {
  local what="$1" venv="$2" bins="$3"
  shift 3
  local check='
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    sys.exit(any(version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))
except PackageNotFoundError:
    sys.exit(1)
'
  local present=1 bin
  for bin in $bins; do
    [ -x "$venv/bin/$bin" ] || present=0
  done
  if [ "$present" = 1 ] && "$venv/bin/python" -c "$check" "$@" 2>/dev/null; then
    echo "$what already installed in $venv"
    return 0
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
  echo "$what installed in $venv: $*"
}

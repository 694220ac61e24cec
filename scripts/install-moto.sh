#!/usr/bin/env bash
# Installs the local AWS emulator (moto's server) into .venv-moto at the project root.
# Pinned: moto 5.2.x answers GetBucketVersioning with an XML root the Rust SDK rejects.
# Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${EKSAUDIT_MOTO_VENV:-$root/.venv-moto}"
want="5.1.22"
if [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c "import moto,sys; sys.exit(moto.__version__ != '$want')" 2>/dev/null; then
  echo "moto $want already installed in $venv"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$want"
echo "moto $want installed in $venv"

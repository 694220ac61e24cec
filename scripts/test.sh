#!/usr/bin/env bash
# Runs every check and test: formatting, lints, unit tests and the integration tests against a local moto.
# This is the README's test command and exactly what CI runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-moto.sh
scripts/install-validators.sh
scripts/install-parliament.sh
scripts/install-linters.sh
scripts/install-cfn-lint.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The alert function's own tests (lambda/alerts), publishing to a local moto's SNS.
.venv-moto/bin/python -m unittest discover -s lambda/alerts
# The Sentinel transform's own tests (lambda/sentinel): Firehose transformation events in, rows out.
.venv-moto/bin/python -m unittest discover -s lambda/sentinel

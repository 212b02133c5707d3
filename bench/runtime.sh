#!/usr/bin/env bash
# Runtime benchmark: ccrun against runc on the same busybox bundle, and
# ccrun's start-up against `node -e 0`. Prints medians and ratios.
#   bench/runtime.sh [RUNS]      (as root; installs runc from Debian if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v runc >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc >/dev/null
fi
[ -f dist/cli/main.js ] || npm run build
exec node bench/runtime.js "${1:-30}"

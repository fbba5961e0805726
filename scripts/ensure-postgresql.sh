#!/usr/bin/env bash
# Install Debian's PostgreSQL server binaries for the portal's database tests when they are
# missing (test machines are Debian, and the tests run as root there). The tests start their own
# throwaway cluster (tests/web/pg.py); no system service is started or configured here.
set -euo pipefail
if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "postgresql is missing: run 'sudo apt-get install -y postgresql' (needed by the portal's database tests)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
ls /usr/lib/postgresql/*/bin/initdb

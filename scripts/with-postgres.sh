#!/usr/bin/env bash
# Run a command with PostgreSQL up on 127.0.0.1:5432 (trust auth, database `test`).
# Starts the local cluster if it is down (installing it from Debian's packages if it is missing, and
# trusting loopback connections),
# and stops it afterwards only if this script started it.
set -euo pipefail

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
started=""
if ! ready; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "with-postgres: installing PostgreSQL from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  # Trust local TCP connections (the tests connect as postgres without a password): a rule put first
  # in pg_hba.conf wins over the packaged scram-sha-256 ones. Loopback only.
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! grep -q "^host all all 127.0.0.1/32 trust" "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  echo "with-postgres: starting PostgreSQL $version" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  started="$version"
  for _ in $(seq 1 60); do ready && break; sleep 0.5; done
  # A cluster we had to create has no `test` database yet.
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='test'\"" | grep -q 1 \
    || su postgres -c "createdb test"
fi
ready || { echo "with-postgres: PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1; }

status=0
"$@" || status=$?
if [ -n "$started" ]; then
  echo "with-postgres: stopping PostgreSQL $started" >&2
  pg_ctlcluster --skip-systemctl-redirect "$started" main stop || true
fi
exit $status

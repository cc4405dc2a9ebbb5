#!/usr/bin/env bash
# Run a command with MariaDB up on 127.0.0.1:3306 and a `test` database its `test` user (password
# `test`) owns, with every database named test_* (the tests make one each and drop it).
# Starts the server if it is down (installing it from Debian's packages if it is missing), and stops it
# afterwards only if this script started it. Chains with the others: with-postgres.sh with-mariadb.sh cmd.
set -euo pipefail

ready() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 ping >/dev/null 2>&1; }
started=""
if ! ready; then
  if ! command -v mariadbd >/dev/null 2>&1; then
    echo "with-mariadb: installing MariaDB from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
  fi
  echo "with-mariadb: starting MariaDB" >&2
  install -d -o mysql -g mysql /run/mysqld
  # Loopback only, whatever the packaged configuration says; no systemd on these machines.
  nohup mariadbd-safe --bind-address=127.0.0.1 --port=3306 >/dev/null 2>&1 &
  started="yes"
  for _ in $(seq 1 60); do ready && break; sleep 0.5; done
fi
ready || { echo "with-mariadb: MariaDB did not come up on 127.0.0.1:3306" >&2; exit 1; }

# As root over the socket (Debian's root logs in by unix_socket). Idempotent, so a server started by
# someone else gets the test user too.
mariadb -uroot <<'SQL'
CREATE DATABASE IF NOT EXISTS test;
CREATE USER IF NOT EXISTS 'test'@'127.0.0.1' IDENTIFIED BY 'test';
CREATE USER IF NOT EXISTS 'test'@'localhost' IDENTIFIED BY 'test';
GRANT ALL PRIVILEGES ON `test`.* TO 'test'@'127.0.0.1', 'test'@'localhost';
GRANT ALL PRIVILEGES ON `test\_%`.* TO 'test'@'127.0.0.1', 'test'@'localhost';
SQL

status=0
"$@" || status=$?
if [ -n "$started" ]; then
  echo "with-mariadb: stopping MariaDB" >&2
  mariadb-admin -uroot shutdown || true
fi
exit $status

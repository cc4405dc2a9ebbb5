#!/bin/sh
# Makes ./secrets, one file per secret of compose.yaml, each a fresh random value; an existing file is
# kept (so running it again changes nothing). The folder is ignored by git and readable by its owner
# alone; the files are world-readable inside it, because the containers read them as their own
# unprivileged users (lgsp 10001, grafana 472) through bind mounts that keep the host's permissions.
set -eu
cd "$(dirname "$0")"
umask 022
mkdir -p secrets
chmod 0711 secrets

random() { python3 -c "import secrets; print(secrets.token_urlsafe($1), end='')"; }
put() {  # put NAME VALUE: write the file unless it exists
  [ -e "secrets/$1" ] && return 0
  printf '%s' "$2" >"secrets/$1"
  echo "made secrets/$1"
}

put lgsp_admin_token "$(random 32)"
put lgsp_secret_key "$(random 32)"
put db_password "$(random 24)"
put lgsp_database_url "postgresql+asyncpg://lgsp:$(cat secrets/db_password)@postgres:5432/lgsp"
put grafana_admin_password "$(random 18)"
# The API key of your own system (profile `connector`): paste it here after registering the system.
[ -e secrets/connector_api_key ] || : >secrets/connector_api_key
chmod 0644 secrets/*

#!/usr/bin/env bash
# Install the real tools the test suite drives, from Debian's packages, when they are missing:
# promtool and a Prometheus server (package `prometheus`) and headless Chromium (package `chromium`).
set -euo pipefail

missing=()
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v jq >/dev/null 2>&1 || missing+=(jq)  # the docs' shell samples (tests/docs)
# tests/deploy: amtool check-config (prometheus-alertmanager), nginx -t (nginx-light), Maven for Strimzi's CRDs.
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-tools: installing ${missing[*]} from Debian's packages" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# tests/deploy: kustomize, kubeconform and the Strimzi and Prometheus Operator CRDs, into ~/.cache/lgsp.
"$(dirname "$0")/../tests/deploy/install-validators.sh"

#!/usr/bin/env bash
# System packages the service tests need: PostgreSQL server binaries and Chromium. Installs what is missing when run
# as root (apt-get); otherwise says what is missing. Quiet and quick when everything is there.
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "system-deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "system-deps: missing ${missing[*]} (install as root: apt-get install -y ${missing[*]});" \
         "the PostgreSQL and browser tests will be skipped" >&2
fi

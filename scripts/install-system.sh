#!/usr/bin/env bash
# System packages the tests need (Debian). Idempotent and quiet when all is present.
set -euo pipefail
need=()
command -v git >/dev/null || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
git config --global user.name >/dev/null || git config --global user.name "labrun tests"
git config --global user.email >/dev/null || git config --global user.email "tests@labrun.invalid"

#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the dashboard browser test when they are missing.
# `make test` calls it; it needs root (as on CI and the development machines) or an existing install.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium and chromedriver are missing: install Debian's 'chromium' and 'chromium-driver' packages" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null

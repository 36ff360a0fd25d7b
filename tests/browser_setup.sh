#!/bin/sh
# Install Debian's headless Chromium and its matching chromedriver for tests/test_ui_browser.py.
# Selenium is always pointed at these binaries, so Selenium Manager never downloads a browser.
set -eu
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium chromium-driver

#!/usr/bin/env bash
# Fetches the web console's front-end libraries from the npm registry at the
# versions package-lock.json pins (npm ci), and copies the files the console
# serves into internal/web/static/, where go:embed takes them; VENDOR.sums
# records each one's version and SHA-256 (TestVendoredAssets checks them).
# The copies are committed: a build needs neither npm nor the network.
set -euo pipefail
cd "$(dirname "$0")/../internal/web"
npm ci --ignore-scripts --no-audit --no-fund
cp node_modules/htmx.org/dist/htmx.min.js static/htmx.min.js
{
	echo "# package version sha256 file (scripts/web-assets.sh)"
	v=$(node -p 'require("./package-lock.json").packages["node_modules/htmx.org"].version')
	echo "htmx.org $v $(sha256sum static/htmx.min.js | cut -d' ' -f1) static/htmx.min.js"
} > VENDOR.sums
echo "web-assets: $(tail -n +2 VENDOR.sums)"

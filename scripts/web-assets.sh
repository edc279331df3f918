#!/usr/bin/env bash
# Fetches the web console's front-end libraries from the npm registry at the
# versions package-lock.json pins (npm ci), and copies the files the console
# serves into internal/web/static/, where go:embed takes them; VENDOR.sums
# records each one's version and SHA-256 (TestVendoredAssets checks them).
# The copies are committed: a build needs neither npm nor the network.
set -euo pipefail
cd "$(dirname "$0")/../internal/web"
npm ci --ignore-scripts --no-audit --no-fund
# package, then the files it gives the console: dist file -> static name.
files=(
	"htmx.org dist/htmx.min.js htmx.min.js"
	"uplot dist/uPlot.iife.min.js uplot.min.js"
	"uplot dist/uPlot.min.css uplot.min.css"
)
{
	echo "# package version sha256 file (scripts/web-assets.sh)"
	for f in "${files[@]}"; do
		read -r pkg from to <<<"$f"
		cp "node_modules/$pkg/$from" "static/$to"
		v=$(node -p "require('./package-lock.json').packages['node_modules/$pkg'].version")
		echo "$pkg $v $(sha256sum "static/$to" | cut -d' ' -f1) static/$to"
	done
} > VENDOR.sums
echo "web-assets: $(tail -n +2 VENDOR.sums)"

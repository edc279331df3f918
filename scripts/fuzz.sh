#!/usr/bin/env bash
# Runs every fuzz target in the module for the given time each (default 30s).
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-30s}"
# The module's packages, then our patched copies of go-smtp and sevenzip
# (their own modules).
for mod in . third_party/go-smtp third_party/sevenzip; do
	for pkg in $(cd "$mod" && go list ./...); do
		for f in $(cd "$mod" && go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
			echo "== $pkg $f ($t)"
			(cd "$mod" && go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg")
		done
	done
done

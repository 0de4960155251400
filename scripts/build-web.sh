#!/usr/bin/env bash
# Builds the web app (web/ -> web/dist, which the gateway serves at `/`) when its
# sources or dependencies changed. npm installs from web/package-lock.json; its download
# cache lives in ~/.npm, outside the repository. Without Node.js the platform starts
# anyway and `/` says the app is not built.
set -euo pipefail
cd "$(dirname "$0")/../web"
if ! command -v npm >/dev/null; then
  echo "web app left out: Node.js (>= 20.19) and npm are missing"
  exit 0
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
built=dist/index.html
if [ ! -f "$built" ] || [ -n "$(find src index.html package-lock.json vite.config.ts tsconfig.json -newer "$built" -print -quit)" ]; then
  npm run --silent build >/dev/null  # type-checks (tsc), then bundles (vite)
  echo "web app built: web/dist"
fi

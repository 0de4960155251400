#!/usr/bin/env bash
# Installs the Debian packages the converters' engines need (each service lists its own
# in system-packages.txt, which the image build installs too) when they are missing; or
# those of the lists named as arguments (tests/system-packages.txt: the test tools).
# Without root or apt-get it says what is missing and goes on: the services start
# without those engines and log what they left out.
set -euo pipefail
cd "$(dirname "$0")/.."
lists=("$@")
[ ${#lists[@]} -gt 0 ] || lists=(services/*/system-packages.txt)
wanted=$(cat "${lists[@]}" 2>/dev/null | sed -e 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for pkg in $wanted; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "left out: Debian packages ${missing[*]} are missing and there is no apt-get"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "left out until you run: sudo apt-get install --no-install-recommends ${missing[*]}"
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }

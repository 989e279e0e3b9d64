#!/usr/bin/env bash
# Build orderflow's image (images/Dockerfile) with buildah, on a machine without Docker and
# without access to a container registry: the Dockerfile's base, python:3.11-slim-bookworm, is
# replaced by a Debian bookworm made by debootstrap (bookworm's python3 is 3.11), passed as the
# build argument PYTHON_IMAGE. The Dockerfile stays the one definition of the image.
#
#   sudo apt-get install -y buildah debootstrap
#   sudo scripts/build-image.sh                  # then: sudo scripts/check-image.sh
#
# Idempotent: the base image is made once and reused (FORCE_BASE=1 makes it again); the image
# is rebuilt each time. Settings (environment): IMAGE, BASE_IMAGE, BUILDAH_DIR (buildah's store,
# never inside the repository), STORAGE_DRIVER (vfs), DEBIAN_MIRROR; see scripts/buildah-env.sh.
# Needs root: debootstrap, and buildah's chroot isolation (no user namespaces needed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/buildah-env.sh
source "$ROOT/scripts/buildah-env.sh"

if [[ $(id -u) -ne 0 ]]; then
    echo "build-image.sh: run as root (debootstrap and buildah's chroot isolation need it)" >&2
    exit 2
fi
command -v buildah >/dev/null || { echo "build-image.sh: buildah is not installed" >&2; exit 2; }
mkdir -p "$BUILDAH_DIR"

# What python:3.11-slim-bookworm provides that the Dockerfile relies on: `python` (the build
# stage runs `python -m venv` and `python -c`), venv with pip (ensurepip), CA certificates (pip
# over HTTPS), apt (both stages install packages), useradd/groupadd (base system), plus netbase
# and tzdata, which the slim image has too. Its environment: LANG=C.UTF-8, CMD python3.
BASE_PACKAGES=python3,python3-venv,python-is-python3,ca-certificates,netbase,tzdata

make_base() {
    command -v debootstrap >/dev/null || {
        echo "build-image.sh: debootstrap is not installed" >&2
        exit 2
    }
    local ctr mnt
    ctr=$(buildah_ from scratch)
    # shellcheck disable=SC2064  # expand now: the container's name
    trap "buildah_ umount '$ctr' >/dev/null 2>&1 || true; buildah_ rm '$ctr' >/dev/null 2>&1 || true" EXIT
    mnt=$(buildah_ mount "$ctr")
    # Everything below writes and deletes under "$mnt": never let that be the host's root.
    if [[ -z $mnt || $mnt == / || ! -d $mnt ]]; then
        echo "build-image.sh: buildah mount gave '$mnt'" >&2
        exit 1
    fi
    echo "== base: debootstrap bookworm into $mnt"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$mnt" "$DEBIAN_MIRROR"
    # The slim image's sources (updates and security too), and its security updates.
    rm -f "$mnt/etc/apt/sources.list"
    cat >"$mnt/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${DEBIAN_MIRROR}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # What Debian's official images (debuerreotype) configure, which the Dockerfile's
    # `apt-get install` steps rely on: apt keeps no package caches or downloaded packages (else
    # pkgcache.bin and srcpkgcache.bin alone add 78 MB to the runtime image), no translations,
    # services are not started; the slim variant also keeps no documentation or man pages.
    # All of it is written INSIDE the new root ("$mnt" is never empty here).
    local conf=$mnt/etc/apt/apt.conf.d
    printf '%s\n' \
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
        'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' >"$conf/docker-clean"
    printf '%s\n' 'Acquire::Languages "none";' >"$conf/docker-no-languages"
    printf '%s\n' 'Apt::AutoRemove::SuggestsImportant "false";' >"$conf/docker-autoremove-suggests"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
        'path-exclude /usr/share/man/*' >"$mnt/etc/dpkg/dpkg.cfg.d/docker"
    printf '%s\n' '#!/bin/sh' 'exit 101' >"$mnt/usr/sbin/policy-rc.d"
    chmod 0755 "$mnt/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$mnt/etc/resolv.conf"
    chroot "$mnt" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        sh -c 'apt-get update && apt-get -y upgrade && apt-get clean'
    # Nothing of this machine in the base: no package lists, caches, logs, resolver, hostname
    # or device nodes (debootstrap made some; a runtime mounts its own /dev); no documentation
    # installed before the exclusions above were in place.
    find "$mnt/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$mnt/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$mnt"/usr/share/info/* "$mnt"/usr/share/locale/* "$mnt"/usr/share/man/* \
        "$mnt"/var/lib/apt/lists/* "$mnt"/var/cache/apt/*.bin "$mnt"/var/cache/debconf/*-old \
        "$mnt"/var/log/* "$mnt"/dev/* "$mnt/etc/resolv.conf" "$mnt/etc/hostname"
    : >"$mnt/etc/resolv.conf"
    buildah_ umount "$ctr" >/dev/null
    buildah_ config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env LANG=C.UTF-8 --cmd python3 \
        --label org.opencontainers.image.description="Debian bookworm + python3.11 (debootstrap), standing in for python:3.11-slim-bookworm" \
        "$ctr"
    buildah_ commit --rm "$ctr" "$BASE_IMAGE" >/dev/null
    trap - EXIT
}

start=$SECONDS
if image_exists "$BASE_IMAGE" && [[ -z ${FORCE_BASE:-} ]]; then
    echo "== base: reusing $BASE_IMAGE"
else
    make_base
    echo "== base: $BASE_IMAGE made in $((SECONDS - start)) s"
fi

# A TLS-intercepting proxy's CA (as in some CI sandboxes) lives in the host's bundle: the RUN
# steps see the host's /etc/ssl/certs (Debian's pip reads /etc/ssl/certs/ca-certificates.crt).
# A bind mount during RUN only: nothing of it is written into a layer.
mounts=()
if [[ -f /etc/ssl/certs/ca-certificates.crt && -z ${NO_HOST_CA:-} ]]; then
    mounts+=(--volume /etc/ssl/certs:/etc/ssl/certs:ro)
fi

build_start=$SECONDS
echo "== image: buildah bud -f images/Dockerfile -t $IMAGE (PYTHON_IMAGE=$BASE_IMAGE)"
buildah_ bud --isolation chroot --pull=never --layers \
    --build-arg "PYTHON_IMAGE=$BASE_IMAGE" \
    "${mounts[@]}" \
    -f "$ROOT/images/Dockerfile" -t "$IMAGE" "$ROOT"
echo "== image: $IMAGE built in $((SECONDS - build_start)) s (total $((SECONDS - start)) s)"
buildah_ images --format '{{.Name}}:{{.Tag}} {{.ID}} {{.Size}}' "$IMAGE"

# Shared settings of scripts/build-image.sh and scripts/check-image.sh (sourced, not run).
#
# buildah keeps its images under BUILDAH_DIR (never inside the repository), with the vfs storage
# driver by default: it works where overlay mounts are not allowed (containers, sandboxes), at
# the price of a full copy of the filesystem per layer. Its own store, not the default
# /var/lib/containers/storage, so another driver configured there does not clash.
BUILDAH_DIR=${BUILDAH_DIR:-/var/lib/containers/orderflow}
STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
# The image and its base. The base stands in for python:3.11-slim-bookworm when no registry is
# reachable: Debian bookworm (whose python3 is 3.11) made by debootstrap.
IMAGE=${IMAGE:-localhost/orderflow:dev}
BASE_IMAGE=${BASE_IMAGE:-localhost/orderflow-base:3.11-bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

buildah_() {
    buildah --root "$BUILDAH_DIR/storage" --runroot "$BUILDAH_DIR/run" \
        --storage-driver "$STORAGE_DRIVER" "$@"
}

image_exists() {
    buildah_ inspect --type image "$1" >/dev/null 2>&1
}

#!/usr/bin/env bash
# Make the base image the Containerfile names in FROM, on a host that cannot pull from a registry:
# a minimal Debian bookworm made by debootstrap from the apt mirror, imported into podman under the
# official name, so that the real Containerfile builds unchanged. On a host that can reach Docker Hub
# this script is not needed (podman/docker pull the official image).
# Idempotent: does nothing when the image exists. Run as root; needs podman and debootstrap.
set -euo pipefail

image="${SIGNIN_BASE_IMAGE:-docker.io/library/debian:bookworm-slim}"
mirror="${SIGNIN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if podman image exists "$image"; then
  echo "container-base: $image exists"
  exit 0
fi

root="$(mktemp -d /var/tmp/signin-base.XXXXXX)"
cleanup() {  # debootstrap mounts /proc and /sys inside while it runs; never remove through them
  for mount in proc sys dev/pts dev; do umount -l "$root/$mount" 2>/dev/null || true; done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
echo "container-base: debootstrap bookworm (minbase) from $mirror, a few minutes"
debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
# What the official slim image has too: its apt sources (updates and security), no docs or
# man pages installed later, no package caches, an empty apt list.
rm -f "$root"/etc/apt/sources.list
cat >"$root"/etc/apt/sources.list.d/debian.sources <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
cat >"$root"/etc/dpkg/dpkg.cfg.d/excludes <<'EXCLUDES'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EXCLUDES
printf 'APT::Install-Recommends "false";\n' >"$root"/etc/apt/apt.conf.d/90norecommends
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
tar --numeric-owner --one-file-system -C "$root" -c . |
  podman import --quiet --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$image" >/dev/null
echo "container-base: made $image ($(podman image inspect --format '{{.Size}}' "$image") bytes)"

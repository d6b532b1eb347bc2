#!/usr/bin/env bash
# Stand-in base images, for testing the real Dockerfile on a machine that reaches no container
# registry (our CI machines reach Debian's package archive and crates.io, but not Docker Hub).
#
# This is NOT a way to build images for production. For each base image the Dockerfile names in a
# FROM line, it does nothing if the image is already there or can be pulled; otherwise it builds
# a look-alike under the exact same name, so that `docker build` runs the Dockerfile unchanged:
#   rust:<version>-<variant>-<suite>   a minimal Debian <suite> (debootstrap) with gcc and libc6-dev,
#                                      plus this machine's own Rust toolchain, which must be <version>.
# Real images replace the stand-ins as soon as a registry is reachable: `docker pull rust:...`.
#
# Needs root, debootstrap and a running engine (scripts/docker-engine.sh sets up both).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/docker-engine.sh
pick_docker || { echo "No docker client" >&2; exit 1; }

MIRROR=http://deb.debian.org/debian

# Builds a stand-in for rust:<version>-...-<suite>, laid out like the real image: the toolchain in
# /usr/local/cargo, which is also CARGO_HOME, and first on PATH.
rust_standin() {
    local image=$1 tag=${1#rust:} version suite host_version sysroot root
    version=${tag%%-*}
    suite=${tag##*-}
    host_version=$(rustc --version | cut -d' ' -f2)
    if [[ $host_version != "$version" && $host_version != "$version".* ]]; then
        echo "Cannot stand in for $image: this machine has Rust $host_version" >&2
        return 1
    fi
    sysroot=$(rustc --print sysroot)
    root=$(mktemp -d /tmp/standin-rust.XXXXXX)
    trap 'rm -rf "$root"' RETURN
    echo "debootstrap $suite (minbase, gcc, libc6-dev) into $root"
    debootstrap --variant=minbase --include=gcc,libc6-dev,ca-certificates \
        "$suite" "$root" "$MIRROR" >"$root.log" 2>&1 \
        || { tail -n 20 "$root.log" >&2; return 1; }
    rm -f "$root.log"
    mkdir -p "$root/usr/local/cargo/bin"
    cp "$sysroot/bin/cargo" "$sysroot/bin/rustc" "$root/usr/local/cargo/bin/"
    cp -a "$sysroot/lib" "$root/usr/local/cargo/"
    # Where the network re-signs TLS with a local authority, cargo needs that authority's
    # certificate to reach crates.io: use this machine's list of trusted certificates.
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    echo "docker import $image"
    tar -C "$root" -c . | "$DOCKER" import \
        -c 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'ENV CARGO_HOME=/usr/local/cargo' \
        -m "stand-in for $image, for offline tests only" - "$image" >/dev/null
}

# The base images of the Dockerfile's stages: FROM lines, less `scratch` and earlier stages' names.
base_images() {
    awk 'toupper($1) == "FROM" { print $2; if (toupper($3) == "AS") print "stage:" $4 }' Dockerfile \
        | awk '/^stage:/ { stages[substr($0, 7)] = 1; next } $0 != "scratch" && !($0 in stages)' \
        | sort -u
}

for image in $(base_images); do
    if "$DOCKER" image inspect "$image" >/dev/null 2>&1; then
        echo "$image: present"
    elif timeout 300 "$DOCKER" pull --quiet "$image" >/dev/null 2>&1; then
        echo "$image: pulled"
    else
        echo "$image: cannot be pulled, building a stand-in"
        case $image in
            rust:*-*) rust_standin "$image" ;;
            *) echo "No stand-in recipe for $image" >&2; exit 1 ;;
        esac
    fi
done

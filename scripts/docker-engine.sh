#!/usr/bin/env bash
# The one place that finds a Docker client and, in CI, installs and starts a Docker engine.
#
#   scripts/docker-engine.sh          install docker.io (apt-get) if it is missing, start dockerd
#                                     in the background if no engine answers, wait until it does.
#                                     For CI machines (Debian, root); exits non-zero if it cannot.
#   source scripts/docker-engine.sh   only defines pick_docker and pick_buildkit_docker, for the
#                                     other scripts.
#
# On a learner's machine, start Docker the usual way (Docker Desktop, `systemctl start docker`)
# instead: this script installs packages and runs dockerd as root.

# How long dockerd may take to answer after it is started.
ENGINE_START_SECONDS=60

# Sets DOCKER to a docker client: the first on PATH, else Debian's /usr/bin/docker.
pick_docker() {
    DOCKER=$(command -v docker || command -v /usr/bin/docker) || return 1
}

# Sets BUILDKIT_DOCKER to a client that can build with BuildKit, if there is one. The Dockerfile
# builds without it too, but a learner's Docker may use either builder, so the tests try both.
# Clients from 23.0 on have BuildKit only through their buildx plugin; older ones (Debian 12's
# 20.10) have it built in, behind DOCKER_BUILDKIT=1. A newer client without buildx may come first
# on PATH, so Debian's /usr/bin/docker is tried too.
pick_buildkit_docker() {
    local candidate path version
    for candidate in docker /usr/bin/docker; do
        path=$(command -v "$candidate") || continue
        version=$("$path" version --format '{{.Client.Version}}' 2>/dev/null || true)
        if "$path" buildx version >/dev/null 2>&1 || [[ $version =~ ^(1[89]|2[0-2])\. ]]; then
            BUILDKIT_DOCKER=$path
            return 0
        fi
    done
    return 1
}

engine_answers() {
    "$DOCKER" info >/dev/null 2>&1
}

install_engine() {
    echo "Installing docker.io, debootstrap and curl with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap curl >/dev/null
}

start_engine() {
    local log=/tmp/dockerd.log deadline=$((SECONDS + ENGINE_START_SECONDS))
    echo "Starting dockerd in the background (log: $log)"
    setsid dockerd >"$log" 2>&1 </dev/null &
    until engine_answers; do
        if ((SECONDS >= deadline)); then
            echo "dockerd did not answer within ${ENGINE_START_SECONDS}s; the end of $log:" >&2
            tail -n 20 "$log" >&2
            return 1
        fi
        sleep 0.5
    done
}

main() {
    set -euo pipefail
    if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null \
        || ! command -v curl >/dev/null || ! pick_docker || ! pick_buildkit_docker; then
        install_engine
    fi
    pick_docker || { echo "No docker client" >&2; exit 1; }
    if engine_answers; then
        echo "Docker engine already running"
    else
        start_engine
    fi
    "$DOCKER" version --format 'Docker client {{.Client.Version}}, engine {{.Server.Version}}'
    if pick_buildkit_docker; then
        echo "BuildKit: with $BUILDKIT_DOCKER"
    else
        echo "BuildKit: no client here has it; the tests build with the older builder only"
    fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi

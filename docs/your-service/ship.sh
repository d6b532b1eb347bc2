#!/usr/bin/env bash
# Ships this service: checks the lessons, builds the image, tags it with the build number,
# pushes it to the registry and deploys that tag with otpl-deploy, each step only if the one
# before it succeeded. A CI build runs it (.github/workflows/ship.yml); so can you, from the
# crate's root:
#
#   SINGULARITY_URL=http://localhost:7099/singularity ./ship.sh local 8
#
# ENV is a directory of config/. BUILD is the image's tag, new for every build (CI's is
# `ci-` and its run's number), so that every deploy names exactly the code it runs.
# Settings, from the environment: WORKSHOP, your clone of the workshop, whose checker and
# otpl-deploy this runs (../hello-mesos); REGISTRY (localhost:5001, the laptop's registry).
set -euo pipefail

# The lesson your service has reached, whose contracts it must pass: raise it as you go.
lesson=${LESSON:-08}

if [[ $# != 2 ]]; then
    echo "usage: ship.sh ENV BUILD (e.g. ship.sh local 8)" >&2
    exit 2
fi
env=$1 build=$2
if [[ -z ${SINGULARITY_URL:-} ]]; then
    echo "ship.sh: set SINGULARITY_URL first, e.g. export SINGULARITY_URL=http://localhost:7099/singularity" >&2
    exit 2
fi
# Docker's rule for a tag: what else would fail later, after the build, fails here.
if [[ ! $build =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
    echo "ship.sh: BUILD must be a Docker tag (letters, digits, _ . -), not '$build'" >&2
    exit 2
fi
workshop=${WORKSHOP:-../hello-mesos}
registry=${REGISTRY:-localhost:5001}
repository=$(tr -d '[:space:]' <docker-repo)
image="$registry/$repository:$build"

# A tag names one build, for good: an agent that pulled a tag before runs what it pulled then,
# so a tag pushed again may never run (page 05). Stop before anything if the registry has it.
manifest="http://$registry/v2/$repository/manifests/$build"
if ! command -v curl >/dev/null; then
    echo "ship.sh: curl is needed, to ask the registry whether it has $image" >&2
    exit 2
fi
if curl -fsI --max-time 10 -o /dev/null "$manifest" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json'; then
    echo "ship.sh: $image is in the registry already: give this build a tag of its own" >&2
    exit 1
fi

# The workshop's tools, built from its Cargo.lock.
tool() { cargo run -q --locked --manifest-path "$workshop/Cargo.toml" -p "$@"; }
step() { printf '==> %s\n' "$*"; }

step "check the lessons up to $lesson"
tool check -- "$lesson" .
step "build $image"
docker build -t "$image" .
step "check the image as the platform runs it"
tool check -- "$lesson" --image "$image"
step "push $image"
docker push "$image"
step "deploy $build to $env"
tool otpl-deploy -- --registry "$registry" "$env" "$build"

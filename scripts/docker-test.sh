#!/usr/bin/env bash
# Container tests: build the Dockerfile for every step-*/ crate and check each image from outside,
# the way Mesos runs it: `docker run` with TASK_HOST and PORT0 on the host network, `docker stop`.
# Every step is built with both builders a learner's `docker build` may use, BuildKit and the older
# one, which must give the same binary, and the dependencies must come from the build cache.
#
#   scripts/docker-test.sh                 every step, then a learner's crate (docs/your-service/)
#   scripts/docker-test.sh your-service    a learner's crate only
#
# Needs a running Docker engine and curl. Without an engine it says so and exits 0, having tested
# nothing; with CI=true that is a failure instead. `cargo test` never needs Docker.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/docker-engine.sh

MAX_IMAGE_BYTES=10000000 # 10 MB
BUILD_SECONDS=1200       # the first build compiles every dependency
START_SECONDS=10         # from `docker run` to the "Server running at" line
GRACE_SECONDS=2          # `docker stop -t 2` for the steps that ignore SIGTERM
STOP_LIMIT_SECONDS=2     # a step that handles SIGTERM must be gone within this

reason=
if ! pick_docker; then
    reason="no docker command"
elif ! timeout 20 "$DOCKER" info >/dev/null 2>&1; then
    reason="no Docker engine answers (\`$DOCKER info\` failed)"
fi
if [[ -n $reason ]]; then
    if [[ ${CI:-} == true ]]; then
        echo "docker tests: $reason, and CI requires them (see scripts/docker-engine.sh)" >&2
        exit 1
    fi
    echo "docker tests: not run, $reason."
    echo "Start Docker, then run scripts/docker-test.sh again."
    exit 0
fi
command -v curl >/dev/null || { echo "docker tests: curl is needed" >&2; exit 1; }

# The builders a learner's `docker build` may use: BuildKit (Docker Desktop, and Docker's own Linux
# packages, which install the buildx plugin) and the older builder (Debian 12's docker.io, and
# Docker 23 and later without buildx). The checks below run on the first one's images.
builders=(legacy)
if pick_buildkit_docker; then
    builders=(buildkit legacy)
elif [[ ${CI:-} == true ]]; then
    echo "docker tests: no client can build with BuildKit, and CI tests both builders" >&2
    exit 1
else
    echo "docker tests: no client here builds with BuildKit; only the older builder is tested."
fi

work=$(mktemp -d)
containers=()
cleanup() {
    if ((${#containers[@]})); then
        "$DOCKER" rm -f "${containers[@]}" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }

# Seconds since `since` (an $EPOCHREALTIME), with one decimal.
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# The step crates, in step order: every step-NN-*/ directory, never a list kept here.
mapfile -t steps < <(for dir in step-*/; do
    [[ -f $dir/Cargo.toml ]] && echo "${dir%/}"
done | sort -t- -k2,2n)
step_number() { local n=${1#step-}; echo $((10#${n%%-*})); }

# Builds `image` from the current directory with `builder` (buildkit or legacy); extra arguments
# go to `docker build`. The output goes to $work/build.log.
build() {
    local builder=$1 image=$2
    shift 2
    case $builder in
        buildkit) set -- env DOCKER_BUILDKIT=1 "$BUILDKIT_DOCKER" build --progress=plain "$@" ;;
        legacy) set -- env DOCKER_BUILDKIT=0 "$DOCKER" build "$@" ;;
    esac
    timeout "$BUILD_SECONDS" "$@" -t "$image" . >"$work/build.log" 2>&1
}

# The crates that the last build compiled and that are not the workspace's own (built from /src,
# or from the directory given).
# The older builder colours cargo's output, even in the middle of a line: the colours go first.
compiled_dependencies() {
    sed 's/\x1b\[[0-9;]*m//g' "$work/build.log" | grep -F 'Compiling ' | grep -vF "(${1:-/src/}" \
        | sed 's/.*Compiling //' || true
}

# Checks that the last build took the dependencies from the cache (for `what`; the sources are in
# /src, or in the directory given).
expect_cached_dependencies() {
    local what=$1 compiled
    compiled=$(compiled_dependencies "${2:-/src/}")
    if [[ -z $compiled ]]; then
        pass "$what: no dependency compiled, all from the build cache"
    else
        fail "$what: compiled $(wc -l <<<"$compiled") dependencies again, e.g. $(head -n 1 <<<"$compiled")"
    fi
}

# Sets `sha` to the SHA-256 of the binary in `image`, or to nothing if it cannot be read.
binary_sha() {
    local id binary=$work/binary
    sha=
    id=$("$DOCKER" create "$1") || return 0
    containers+=("$id")
    rm -f "$binary"
    if "$DOCKER" cp "$id:/usr/local/bin/hello-mesos" - 2>/dev/null | tar -xO >"$binary" \
        && [[ -s $binary ]]; then
        sha=$(sha256sum "$binary" | cut -d' ' -f1)
    fi
    "$DOCKER" rm "$id" >/dev/null
}

# Starts a container in the background (arguments as for `docker run`); its id goes in $id.
start() {
    id=$("$DOCKER" run -d "$@")
    containers+=("$id")
}

# Waits until the container's output contains `text`, or it exits, or START_SECONDS pass.
wait_for_output() {
    local id=$1 text=$2 deadline=$((SECONDS + START_SECONDS))
    until "$DOCKER" logs "$id" 2>&1 | grep -qF -- "$text"; do
        if ((SECONDS >= deadline)) || [[ $("$DOCKER" inspect -f '{{.State.Running}}' "$id") != true ]]; then
            return 1
        fi
        sleep 0.1
    done
}

exit_code() { "$DOCKER" inspect -f '{{.State.ExitCode}}' "$1"; }
output_of() { "$DOCKER" logs "$1" 2>&1 | tail -n 5 | sed 's/^/      | /'; }

# `docker stop` on the container $id (for `what`): it must exit 0.
expect_clean_stop() {
    local what=$1 code
    timeout 30 "$DOCKER" stop -t 10 "$id" >/dev/null || true
    code=$(exit_code "$id")
    [[ $code == 0 ]] && pass "$what: docker stop -> exit 0" \
        || fail "$what: docker stop -> exit $code, expected 0"
}

# GET url: prints the status code; the body goes to $work/body.
get() {
    curl -sS --max-time 5 -o "$work/body" -w '%{http_code}' "$1" 2>/dev/null || true
}

# Expects `GET url` to answer 200 with a body containing `text`.
expect_get() {
    local what=$1 url=$2 text=$3 status
    status=$(get "$url")
    if [[ $status == 200 ]] && grep -qF -- "$text" "$work/body"; then
        pass "$what: GET $url -> 200 $(head -n 1 "$work/body")"
    else
        fail "$what: GET $url -> ${status:-no answer}, expected 200 with \"$text\""
    fi
}

# A port on which nothing listens on this machine right now, below Linux's range of ports for
# outgoing connections (32768 and up), which a listener cannot take while a connection holds it,
# and outside the practice platform's range for tasks (31000-32000).
free_port() {
    local port
    for _ in {1..100}; do
        port=$((20000 + RANDOM % 10000))
        if ! (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    return 1
}

# ---- A learner's own crate, built with docs/your-service/ ----

# The recipe that a learner copies into their crate (docs/your-service/Dockerfile and
# .dockerignore), tried on a learner's service after page 09 (test-support/fixtures/your-service),
# with its copy of discovery-client/, as page 09 has the learner make. With each builder: a first
# build, the image's settings, the service in it, then an edit of src/main.rs rebuilt from the
# cached dependencies. The first builder's image is tagged your-service:test.
your_service() {
    local crate=$work/your-service builder tag since first rebuild size size_mb network
    printf '\n%s\n' "-- Your own service (docs/your-service/)"
    mkdir "$crate"
    tar -c -C test-support/fixtures/your-service --exclude=./target --exclude=./discovery-client . \
        | tar -x -C "$crate"
    cp -r discovery-client docs/your-service/Dockerfile docs/your-service/.dockerignore "$crate"
    for builder in "${builders[@]}"; do
        tag=your-service:test
        [[ $builder == "${builders[0]}" ]] || tag=your-service-$builder:test
        since=$EPOCHREALTIME
        if ! (cd "$crate" && build "$builder" "$tag"); then
            fail "your service: docker build ($builder) failed:"
            tail -n 20 "$work/build.log" | sed 's/^/      | /'
            continue
        fi
        first=$(elapsed "$since")
        pass "your service: docker build ($builder) in $first s," \
            "$(compiled_dependencies /app | grep -c .) dependencies compiled"

        size=$("$DOCKER" image inspect -f '{{.Size}}' "$tag")
        size_mb=$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1e6 }')
        ((size <= MAX_IMAGE_BYTES)) && pass "your service ($builder): image size $size_mb MB" \
            || fail "your service ($builder): image size $size_mb MB, above $((MAX_IMAGE_BYTES / 1000000)) MB"
        settings=$("$DOCKER" image inspect -f '{{.Config.User}} {{json .Config.Entrypoint}}' "$tag")
        # The exec form is a list that starts with the binary; the shell form starts with /bin/sh.
        [[ $settings =~ ^10001:10001\ \[\"/[^\"]+\"\]$ && $settings != *'"/bin/sh"'* ]] \
            && pass "your service ($builder): USER and ENTRYPOINT: $settings" \
            || fail "your service ($builder): expected USER 10001:10001 and an exec-form ENTRYPOINT, got $settings"
        your_service_runs "$tag" "your service ($builder)"

        # An edit, with a date older than any build (as a checkout's files may be). BuildKit
        # counts the network among a RUN's cache keys, so `--network=none` would compile the
        # dependencies again, without a network to fetch them: the edit is built with the network
        # there, and must neither compile a dependency nor touch crates.io. The older builder
        # reuses its cache whatever the network: it rebuilds with none.
        echo "// edited at $EPOCHSECONDS" >>"$crate/src/main.rs"
        touch -d 2000-01-01 "$crate/src/main.rs"
        network=
        [[ $builder == legacy ]] && network=--network=none
        since=$EPOCHREALTIME
        if ! (cd "$crate" && build "$builder" "$tag" $network); then
            fail "your service, edited ($builder${network:+, $network}): the build failed:"
            tail -n 20 "$work/build.log" | sed 's/^/      | /'
            continue
        fi
        rebuild=$(elapsed "$since")
        pass "your service, edited ($builder${network:+, $network}): rebuilt in $rebuild s"
        expect_cached_dependencies "your service, edited ($builder)" /app
        if grep -qE 'Updating crates.io index|Downloaded ' "$work/build.log"; then
            fail "your service, edited ($builder): cargo went to crates.io"
        elif ! sed 's/\x1b\[[0-9;]*m//g' "$work/build.log" | grep -qF 'Compiling my-hello-mesos'; then
            fail "your service, edited ($builder): the edited crate was not compiled"
        else
            pass "your service, edited ($builder): only the crate compiled, nothing fetched"
        fi
        your_service_runs "$tag" "your service, edited ($builder)"
        printf '      %s: first build %s s, rebuild after an edit %s s, image %s MB\n' \
            "$builder" "$first" "$rebuild" "$size_mb"
        [[ $tag == your-service:test ]] || "$DOCKER" rmi "$tag" >/dev/null || true
    done
}

# The contracts of a service that does pages 03 to 09, on `image` (for `what`): exit 3 without
# its environment, readiness and /health on the host's network, `docker stop` ends it with 0.
your_service_runs() {
    local image=$1 what=$2 code port
    code=0
    timeout 30 "$DOCKER" run --rm "$image" >"$work/out" 2>&1 || code=$?
    [[ $code == 3 ]] && pass "$what: docker run without env -> exit 3" \
        || fail "$what: docker run without env -> exit $code, expected 3"
    port=$(free_port)
    start --net=host -e TASK_HOST=127.0.0.1 -e PORT0="$port" "$image"
    if wait_for_output "$id" "Server running at: http://127.0.0.1:$port"; then
        expect_get "$what" "http://127.0.0.1:$port/health" "started"
        expect_clean_stop "$what"
    else
        fail "$what: no readiness line within ${START_SECONDS}s:"
        output_of "$id"
    fi
    "$DOCKER" rm -f "$id" >/dev/null
}

# `scripts/docker-test.sh your-service` tests the learner's recipe alone.
if [[ ${1:-} == your-service ]]; then
    your_service
    printf '\ndocker tests (your-service):\n%s passed, %s failed\n' "$passed" "$failed"
    ((failed == 0))
    exit
fi

# ---- The Dockerfile itself ----

rust_version=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
if grep -q "^FROM rust:$rust_version-" Dockerfile; then
    pass "Dockerfile: the builder is Rust $rust_version, as in Cargo.toml"
else
    fail "Dockerfile: the builder image is not rust:$rust_version-* (rust-version in Cargo.toml)"
fi

default_step=$(sed -n 's/^ARG STEP=//p' Dockerfile)
last_step=${steps[-1]}
if [[ $default_step == "$last_step" ]]; then
    pass "Dockerfile: builds the last step, $last_step, without --build-arg STEP"
else
    fail "Dockerfile: builds '$default_step' without --build-arg STEP, but the last step is $last_step"
fi

# What `docker build .` sends to the engine: .dockerignore must keep target/ (gigabytes) and .git out.
if printf 'FROM scratch\nCOPY . /context\n' \
    | DOCKER_BUILDKIT=0 "$DOCKER" build -q -t hello-mesos:context -f - . >/dev/null 2>"$work/build.log" \
    && id=$("$DOCKER" create hello-mesos:context /none) && containers+=("$id") \
    && "$DOCKER" export "$id" | tar -t >"$work/context" && "$DOCKER" rm "$id" >/dev/null \
    && "$DOCKER" rmi hello-mesos:context >/dev/null; then
    if grep -qE '^context/(target|\.git)(/|$)' "$work/context"; then
        fail "build context: contains $(grep -oE '^context/(target|\.git)' "$work/context" | sort -u | xargs)"
    else
        pass "build context: $(grep -c . "$work/context") files, without target/ and .git"
    fi
else
    fail "build context: could not be listed:"
    tail -n 10 "$work/build.log" | sed 's/^/      | /'
fi

# ---- Every step ----

for step in "${steps[@]}"; do
    n=$(step_number "$step")
    image=hello-mesos:$step
    printf '\n%s\n' "-- $step"

    # The first builder's image is the one checked below; the others must hold the same binary.
    built=()
    for builder in "${builders[@]}"; do
        tag=$image
        [[ $builder == "${builders[0]}" ]] || tag=hello-mesos-$builder:$step
        since=$EPOCHREALTIME
        if build "$builder" "$tag" --build-arg STEP="$step"; then
            pass "$step: docker build ($builder) in $(elapsed "$since") s"
            built+=("$tag")
        else
            fail "$step: docker build ($builder) failed:"
            tail -n 20 "$work/build.log" | sed 's/^/      | /'
            continue
        fi
        # Steps after the first reuse the compiled dependencies of the first.
        [[ $step == "${steps[0]}" ]] || expect_cached_dependencies "$step ($builder)"
    done
    [[ ${built[0]:-} == "$image" ]] || continue
    if ((${#builders[@]} > 1 && ${#built[@]} == ${#builders[@]})); then
        shas=()
        for tag in "${built[@]}"; do
            binary_sha "$tag"
            shas+=("$sha")
        done
        # Only the first builder's image is kept: the others were built to be compared.
        for tag in "${built[@]:1}"; do
            "$DOCKER" rmi "$tag" >/dev/null || true
        done
        distinct=$(printf '%s\n' "${shas[@]}" | sort -u)
        if [[ -n ${shas[0]} && $distinct == "${shas[0]}" ]]; then
            pass "$step: the same binary from ${builders[*]}, sha256 ${shas[0]:0:12}"
        else
            fail "$step: not the same binary from ${builders[*]}: ${shas[*]:-none could be read}"
        fi
    fi

    size=$("$DOCKER" image inspect -f '{{.Size}}' "$image")
    size_mb=$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1e6 }')
    if ((size <= MAX_IMAGE_BYTES)); then
        pass "$step: image size $size_mb MB"
    else
        fail "$step: image size $size_mb MB, above the limit of $((MAX_IMAGE_BYTES / 1000000)) MB"
    fi

    # Step 03 on: without its environment the app refuses to start, as on a laptop.
    if ((n >= 3)); then
        code=0
        timeout 30 "$DOCKER" run --rm "$image" >"$work/out" 2>&1 || code=$?
        if [[ $code == 3 ]] && grep -qF 'TASK_HOST not set' "$work/out"; then
            pass "$step: docker run without env -> exit 3, $(head -n 1 "$work/out")"
        else
            fail "$step: docker run without env -> exit $code, expected 3 and \"TASK_HOST not set\":"
            sed 's/^/      | /' "$work/out"
        fi
    fi

    # Serve on the host's network, as Mesos runs it. Step 02 ignores the environment and
    # always listens on localhost:3000.
    port=$(free_port)
    base=http://127.0.0.1:$port
    ((n >= 3)) || base=http://localhost:3000
    ready="Server running at: $base"
    start --net=host -e TASK_HOST=127.0.0.1 -e PORT0="$port" "$image"
    if ! wait_for_output "$id" "$ready"; then
        fail "$step: no \"$ready\" within ${START_SECONDS}s:"
        output_of "$id"
        "$DOCKER" rm -f "$id" >/dev/null
        continue
    fi
    expect_get "$step" "$base/" "Hello"
    if ((n >= 7)); then
        expect_get "$step" "$base/health" "started"
    fi

    uid=$("$DOCKER" top "$id" -o pid,uid | awk 'NR == 2 { print $2 }' || true)
    if [[ -n $uid && $uid != 0 ]]; then
        pass "$step: the app runs as uid $uid, not root"
    else
        fail "$step: the app runs as uid '${uid}', expected a non-root user"
    fi

    # `docker stop` sends SIGTERM to PID 1, and SIGKILL after the grace period.
    if ((n >= 4)); then
        since=$EPOCHREALTIME
        timeout 30 "$DOCKER" stop -t 10 "$id" >/dev/null || true
        took=$(elapsed "$since")
        code=$(exit_code "$id")
        if [[ $code == 0 ]] && awk -v t="$took" -v l="$STOP_LIMIT_SECONDS" 'BEGIN { exit !(t < l) }' \
            && "$DOCKER" logs "$id" 2>&1 | grep -qF 'Caught SIGTERM'; then
            pass "$step: docker stop -> exit 0 in $took s, \"Caught SIGTERM\""
        else
            fail "$step: docker stop -> exit $code in $took s, expected 0 within ${STOP_LIMIT_SECONDS}s and \"Caught SIGTERM\":"
            output_of "$id"
        fi
    else
        # The workshop's lesson: PID 1 without a SIGTERM handler ignores SIGTERM, so the
        # container lives until the grace period is over and is then killed (128 + 9).
        since=$EPOCHREALTIME
        timeout 30 "$DOCKER" stop -t "$GRACE_SECONDS" "$id" >/dev/null || true
        took=$(elapsed "$since")
        code=$(exit_code "$id")
        if [[ $code == 137 ]] && awk -v t="$took" -v g="$GRACE_SECONDS" 'BEGIN { exit !(t >= g) }'; then
            pass "$step: docker stop -t $GRACE_SECONDS -> SIGTERM ignored, SIGKILLed: exit 137 after $took s"
        else
            fail "$step: docker stop -t $GRACE_SECONDS -> exit $code after $took s, expected 137 after ${GRACE_SECONDS}s"
            output_of "$id"
        fi
    fi
    "$DOCKER" rm -f "$id" >/dev/null

    # Names resolve inside the image: `localhost`, and a name that only /etc/hosts knows.
    if ((n >= 3)); then
        for host in localhost hello-mesos-test.invalid; do
            port=$(free_port)
            start --net=host --add-host hello-mesos-test.invalid:127.0.0.1 \
                -e TASK_HOST="$host" -e PORT0="$port" "$image"
            if wait_for_output "$id" "Server running at: http://$host:$port"; then
                # This machine knows `localhost` too, but not the other name.
                [[ $host == localhost ]] && url=http://localhost:$port/ || url=http://127.0.0.1:$port/
                expect_get "$step: TASK_HOST=$host" "$url" "Hello"
            else
                fail "$step: TASK_HOST=$host did not start within ${START_SECONDS}s:"
                output_of "$id"
            fi
            "$DOCKER" rm -f "$id" >/dev/null
        done
    fi

    # Announcing from the image: the discovery host's name resolves (here through /etc/hosts)
    # and the HTTP client runs, so the seed host's closed port is what fails, and the app
    # keeps serving and still stops cleanly.
    if ((n >= 9)); then
        port=$(free_port)
        start --net=host --add-host discovery-test.invalid:127.0.0.1 -e OT_ENV=pp-sf \
            -e DISCOVERY_HOST=discovery-test.invalid:9 -e DISCOVERY_HEARTBEAT_MS=200 \
            -e TASK_HOST=127.0.0.1 -e PORT0="$port" "$image"
        refused='Discovery error: http://discovery-test.invalid:9/watch: '
        if wait_for_output "$id" "$refused" && "$DOCKER" logs "$id" 2>&1 | grep -qF 'Connection refused'; then
            pass "$step: OT_ENV=pp-sf: the discovery host resolves, its closed port is reported"
            expect_get "$step: while discovery is down" "http://127.0.0.1:$port/health" "started"
            expect_clean_stop "$step: OT_ENV=pp-sf"
        else
            fail "$step: OT_ENV=pp-sf: no \"$refused…Connection refused\" within ${START_SECONDS}s:"
            output_of "$id"
        fi
        "$DOCKER" rm -f "$id" >/dev/null
    fi
done

# ---- A change to the code ----
printf '\n%s\n' "-- A change to the code"

# A copy of the build context where the last step greets differently, with a date older than any
# build (as a checkout's files may be): the image must answer with the new greeting, and only
# the workspace's own packages be compiled again, the dependencies coming from the cache.
edited=$work/edited
greeting="Hello, edited at $EPOCHSECONDS."
mkdir "$edited"
tar -c --exclude=./target --exclude=./.git . | tar -x -C "$edited"
main_rs=$edited/$last_step/src/main.rs
sed -i "s/Hello, Axum\./$greeting/" "$main_rs"
touch -d 2000-01-01 "$main_rs"
for builder in "${builders[@]}"; do
    what="$last_step, edited ($builder)"
    since=$EPOCHREALTIME
    if ! (cd "$edited" && build "$builder" hello-mesos:edited --build-arg STEP="$last_step"); then
        fail "$what: the build failed:"
        tail -n 10 "$work/build.log" | sed 's/^/      | /'
        continue
    fi
    pass "$what: rebuilt in $(elapsed "$since") s"
    expect_cached_dependencies "$what"
    port=$(free_port)
    start --net=host -e TASK_HOST=127.0.0.1 -e PORT0="$port" hello-mesos:edited
    if wait_for_output "$id" "Server running at: http://127.0.0.1:$port"; then
        expect_get "$what" "http://127.0.0.1:$port/" "$greeting"
    else
        fail "$what: did not start within ${START_SECONDS}s:"
        output_of "$id"
    fi
    "$DOCKER" rm -f "$id" >/dev/null
    "$DOCKER" rmi hello-mesos:edited >/dev/null || true
done

# ---- Build arguments ----
printf '\n%s\n' "-- STEP build argument"

for bad in step-99-missing xtask; do
    if build "${builders[0]}" hello-mesos:unknown --build-arg STEP="$bad"; then
        fail "STEP=$bad: the build succeeded, expected it to fail"
    elif grep -qF "Unknown STEP '$bad'. Valid steps: ${steps[*]}" "$work/build.log"; then
        pass "STEP=$bad: the build fails with \"Unknown STEP '$bad'. Valid steps: ${steps[*]}\""
    else
        fail "STEP=$bad: the build fails without naming the valid steps:"
        tail -n 10 "$work/build.log" | sed 's/^/      | /'
    fi
done

# Without --build-arg: the same image as the last step's (everything comes from the build cache).
if [[ $default_step == "$last_step" ]]; then
    if build "${builders[0]}" hello-mesos \
        && [[ $("$DOCKER" image inspect -f '{{.Id}}' hello-mesos) == \
            $("$DOCKER" image inspect -f '{{.Id}}' "hello-mesos:$last_step") ]]; then
        pass "docker build without STEP: the image of $last_step"
    else
        fail "docker build without STEP: not the image of $last_step"
        tail -n 10 "$work/build.log" | sed 's/^/      | /'
    fi
fi

your_service

printf '\ndocker tests (%s):\n%s passed, %s failed\n' "${steps[*]} your-service" "$passed" "$failed"
((failed == 0))

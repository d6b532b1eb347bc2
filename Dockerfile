# One Dockerfile for every step of the workshop. Pick the step with a build argument:
#
#   docker build --build-arg STEP=step-07-health -t hello-mesos .
#   docker run --net=host -e TASK_HOST=localhost -e PORT0=3000 hello-mesos
#
# Without --build-arg it builds the last step. BuildKit is required: Docker 23 and later use it
# through the buildx plugin (install it if `docker buildx version` fails); with Docker 18.09 to
# 22.x, set DOCKER_BUILDKIT=1.

# The step to build: the name of one of the step-*/ directories.
ARG STEP=step-09-discovery

# ---- Build stage: compile the chosen step into one static binary. ----
# The same Rust version as `rust-version` in Cargo.toml, so the image builds what `cargo test` tested.
FROM rust:1.95-slim-bookworm AS build
# An ARG declared before the first FROM must be declared again to be visible inside a stage.
ARG STEP
WORKDIR /src
# The whole workspace: cargo needs every member's Cargo.toml, even to build a single step.
# .dockerignore keeps target/ and .git out, so the build context stays a few hundred kB.
COPY . .
# Fail early, naming the valid steps, rather than with a cargo error about a missing package.
RUN case "$STEP" in step-*) ;; *) false ;; esac && [ -f "$STEP/Cargo.toml" ] \
    || { echo "Unknown STEP '$STEP'. Valid steps:" $(ls -d step-*/ | tr -d /) >&2; exit 1; }
# A statically linked binary needs no shared libraries at run time, so it can run in an empty image.
# Naming the target explicitly (this machine's: x86_64 or aarch64) applies +crt-static to the binary
# only, not to build scripts and macros.
ENV RUSTFLAGS="-C target-feature=+crt-static"
# The two cache mounts keep the downloaded crates and the compiled dependencies between builds:
# the steps share their dependencies, so after the first step is built, building another one
# compiles little more than that step. --locked builds exactly the versions in Cargo.lock.
# Cargo rebuilds a crate when its sources are newer than its last build, but COPY keeps the files'
# dates, so a build from another copy of the repository, left in the cache, could look up to date:
# `cargo clean --package` makes sure the step, and the discovery client of step 09 (the workspace's
# own library), are always compiled from the sources above.
# The target directory is a cache, not part of the image, so the binary is copied out in the same
# command, to a fixed path that the ENTRYPOINT below can name whatever the step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(uname -m)-unknown-linux-gnu" \
    && cargo clean --release --target "$target" --package "$STEP" --package discovery-client \
    && cargo build --release --locked --target "$target" --package "$STEP" \
    && cp "target/$target/release/$STEP" /hello-mesos

# ---- Runtime stage: the binary and nothing else. ----
# `scratch` is the empty image: no shell, no package manager, nothing to patch: 2 to 4 MB in all.
# Names still resolve (TASK_HOST=localhost, service names): Docker writes /etc/hosts and
# /etc/resolv.conf into every container, even this one, and the static binary carries glibc's
# resolver, which (since glibc 2.35) reads /etc/hosts, then DNS, when there is no /etc/nsswitch.conf.
FROM scratch
COPY --from=build /hello-mesos /usr/local/bin/hello-mesos
# Run as an unprivileged user. There is no /etc/passwd here, so the user is given by number.
# Binding the port needs no privilege: Mesos hands out ports above 1024 (PORT0).
USER 10001:10001
# No EXPOSE: the port is not fixed, Mesos chooses it at deploy time and passes it as PORT0.
# Exec form, without a shell: the binary is PID 1 and receives `docker stop`'s SIGTERM itself.
ENTRYPOINT ["/usr/local/bin/hello-mesos"]

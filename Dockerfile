# One Dockerfile for every step of the workshop. Pick the step with a build argument:
#
#   docker build --build-arg STEP=step-07-health -t hello-mesos .
#   docker run --net=host -e TASK_HOST=localhost -e PORT0=3000 hello-mesos
#
# Without --build-arg it builds the last step. Docker 20.10.10 and later build it, with BuildKit or
# without: it uses nothing newer than multi-stage builds. (Older engines refuse clone3, the system
# call that Debian 12's C library starts threads with, inside containers.)

# The step to build: the name of one of the step-*/ directories.
ARG STEP=step-09-discovery

# ---- The toolchain that the stages below start from. ----
# The same Rust version as `rust-version` in Cargo.toml, so the image builds what `cargo test` tested.
FROM rust:1.95-slim-bookworm AS toolchain
WORKDIR /src
# A statically linked binary needs no shared libraries at run time, so it can run in an empty image.
# The builds below name the target explicitly (this machine's: x86_64 or aarch64), which applies
# +crt-static to the binaries only, not to build scripts and macros.
ENV RUSTFLAGS="-C target-feature=+crt-static"

# ---- Manifests stage: the workspace with empty sources. ----
# Compiling the dependencies takes a minute or more, a step takes seconds. So the dependencies get
# a layer of their own, compiled from the manifests alone: Docker reuses that layer for every step
# and after every change to the code, and compiles them again only when Cargo.toml or Cargo.lock
# change.
FROM toolchain AS manifests
# An ARG declared before the first FROM must be declared again to be visible inside a stage.
ARG STEP
# The whole workspace: cargo needs every member's Cargo.toml, even to build a single step.
# .dockerignore keeps target/ and .git out, so the build context stays around a megabyte.
COPY . .
# Fail early, naming the valid steps, rather than with a cargo error about a missing package.
RUN case "$STEP" in step-*) ;; *) false ;; esac && [ -f "$STEP/Cargo.toml" ] \
    || { echo "Unknown STEP '$STEP'. Valid steps:" $(ls -d step-*/ | tr -d /) >&2; exit 1; }
# Keep Cargo.toml, Cargo.lock and cargo's settings (.cargo/config.toml); delete every other file,
# and the directories left empty; give every package (at any depth: the checker's Rust fixture is
# one below check/) an empty library and an empty main instead of its sources. The result is the
# same whatever the step and the code, so the next stage's COPY finds it unchanged and Docker takes
# the compiled dependencies from its cache.
RUN find . -type f ! -name Cargo.toml ! -name Cargo.lock ! -path ./.cargo/config.toml -delete \
    && find . -mindepth 1 -type d -empty -delete \
    && for manifest in $(find . -mindepth 2 -name Cargo.toml); do \
        package=$(dirname "$manifest"); \
        mkdir -p "$package/src" && : >"$package/src/lib.rs" && echo 'fn main() {}' >"$package/src/main.rs"; \
    done

# ---- Dependencies stage: every step's dependencies, compiled. ----
FROM toolchain AS dependencies
COPY --from=manifests /src .
# One step at a time, as the build stage below builds them: cargo compiles a dependency with the
# features of the packages it builds, and step 09's discovery client turns on more of them.
# --locked builds exactly the versions in Cargo.lock. `|| exit` stops at the first failure (the
# shell of a RUN goes on after a failed command in a loop). Then the empty sources go: the next
# stage copies the real ones.
RUN target="$(uname -m)-unknown-linux-gnu" && for step in step-*/; do \
        cargo build --release --locked --target "$target" --package "${step%/}" || exit; \
    done \
    && rm -r */src

# ---- Build stage: compile the chosen step into one static binary. ----
FROM dependencies AS build
ARG STEP
COPY . .
# Cargo rebuilds a package when its sources are newer than its last build. COPY keeps the files'
# dates, which may be older than the empty sources compiled above: `touch` makes them newer.
# The binary goes to a fixed path, which the runtime stage copies whatever the step.
RUN target="$(uname -m)-unknown-linux-gnu" \
    && find . -path ./target -prune -o -name '*.rs' -exec touch {} + \
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

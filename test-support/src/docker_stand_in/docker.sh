#!/bin/sh
# A stand-in for the `docker` command line, for running the platform without an engine. It
# models what the platform asks of an engine and no more: `info`; `run` (each task it runs is a
# file of `running/` beside it); `ps` (those tasks as running, in the platform's --format, or
# their container ids with --quiet); `logs` (one line); `stop` and `rm` (the file goes). It
# writes each call as a line of `calls` beside itself, and refuses anything else, saying so.
#
# `run` reads its options as Docker does: each option is `--NAME=VALUE` or a flag, `--` ends
# them, and the first word after is the image (the rest is the container's command line). An
# option it does not model (`--volume`, `--privileged`…) is refused, as is an image that starts
# with `-`: what Docker would have taken as an option never passes unseen.
here=$(dirname "$0")
echo "$*" >> "$here/calls"
mkdir -p "$here/running"
refuse() {
    echo "docker stand-in: $*" >&2
    exit 1
}
case "$1" in
info) echo "stand-in|a stand-in for Docker" ;;
run)
    shift
    task=
    while [ $# -gt 0 ]; do
        case "$1" in
        --) shift; break ;;
        --label=hello-mesos.platform.task=*) task=${1#*task=} ;;
        # `--env=NAME` alone would take NAME's value from the client's own environment.
        --env=*=*) ;;
        --env=*) refuse "\`$1\` without =VALUE is not modelled: it would pass on the client's own" ;;
        --detach | --net=host | --name=* | --label=* | --log-driver=* | --log-opt=* | \
            --memory=* | --cpus=* | --pull=* | --entrypoint=*) ;;
        -*) refuse "the option \`$1\` of \`docker run\` is not modelled" ;;
        *) break ;;
        esac
        shift
    done
    case "$1" in
    "") refuse "\`docker run\` without an image" ;;
    -*) refuse "an image that starts with \`-\` is not modelled: $1" ;;
    esac
    [ -n "$task" ] || refuse "a run without the platform's task label"
    : > "$here/running/$task"
    echo "c-$task"
    ;;
ps)
    for file in "$here"/running/*; do
        [ -e "$file" ] || continue
        case "$*" in
        *--format=*) echo "${file##*/}|running|Up 1 second" ;;
        *--quiet*) echo "c-${file##*/}" ;;
        esac
    done
    ;;
logs) echo "2026-01-01T00:00:00.000000000Z a line" ;;
stop | rm)
    for arg in "$@"; do
        case "$arg" in c-*) rm -f "$here/running/${arg#c-}" ;; esac
    done
    ;;
*) refuse "\`docker $*\` is not modelled" ;;
esac
exit 0

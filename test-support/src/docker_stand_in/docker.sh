#!/bin/sh
# A stand-in for the `docker` command line, for running the platform without an engine. It
# models what the platform asks of an engine and no more: `info`; `run` (each task it runs is a
# file of `running/` beside it); `ps` (those tasks as running, in the platform's --format, or
# their container ids with --quiet); `logs` (one line); `stop` and `rm` (the file goes). It
# writes each call as a line of `calls` beside itself, and refuses anything else, saying so.
here=$(dirname "$0")
echo "$*" >> "$here/calls"
mkdir -p "$here/running"
case "$1" in
info) echo "stand-in|a stand-in for Docker" ;;
run)
    task=
    for arg in "$@"; do
        case "$arg" in hello-mesos.platform.task=*) task=${arg#*=} ;; esac
    done
    [ -n "$task" ] || { echo "docker stand-in: a run without the platform's task label" >&2; exit 1; }
    : > "$here/running/$task"
    echo "c-$task"
    ;;
ps)
    for file in "$here"/running/*; do
        [ -e "$file" ] || continue
        case "$*" in
        *--format*) echo "${file##*/}|running|Up 1 second" ;;
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
*)
    echo "docker stand-in: \`docker $*\` is not modelled" >&2
    exit 1
    ;;
esac
exit 0

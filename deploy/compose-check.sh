#!/usr/bin/env bash
# Builds the images, runs the compose stack for real, drives it from the host like the README's
# tour, checks slow clients through the proxy, breaks it (deploy/faults.py), runs the test
# service, and tears everything down. Its own dockerd (data root, exec root, socket, pidfile)
# lives under $CHECK_ROOT, with the caches a second run reuses (Debian tarball, wheelhouse keyed
# by the locks' hash, the daemon's images and layers). Whatever ends it (success, a failed step,
# SIGINT, SIGTERM), no dockerd, containerd, shim, container or listening port is left; a previous
# run's leftovers are cleaned up first.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECK_ROOT=${CHECK_ROOT:-/var/tmp/skserve-compose-check}
EXEC_ROOT=$CHECK_ROOT/exec
export DOCKER_HOST="unix://$CHECK_ROOT/docker.sock" DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
export COMPOSE_PROJECT_NAME=skservecheck API_PORT=${API_PORT:-18880} ADMIN_TOKEN=compose-check-token
START=$(date +%s)
STEP_NAME="" STEP_START=$START CHILD="" SUMMARY=""
PY=.venv/bin/python

step() {
    local now
    now=$(date +%s)
    [ -n "$STEP_NAME" ] && SUMMARY+="$(printf '%6d s  %s' $((now - STEP_START)) "$STEP_NAME")"$'\n'
    STEP_NAME=$1 STEP_START=$now
    echo "==> [$((now - START)) s] $1"
}

# Long steps run in the background so a SIGINT/SIGTERM reaches the trap at once, not when the
# step ends; the trap stops the step before tearing down.
run() {
    "$@" &
    CHILD=$!
    wait "$CHILD"
    CHILD=""
}

compose() { docker-compose "$@"; }

on_exit() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
        # a step that is a shell function runs in a subshell: its children first
        pkill -TERM -P "$CHILD" 2>/dev/null || true
        kill -TERM "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ] && daemon_answers; then
        step "FAILED (exit $status) in: $STEP_NAME; the logs of every service"
        timeout 30 docker-compose ps || true
        timeout 60 docker-compose logs --no-color --tail 80 || true
    fi
    teardown
    step "done"
    printf 'step times:\n%s' "$SUMMARY"
    exit "$status"
}

# The pid in a pidfile of ours, if that process is still alive.
live_pid() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

daemon_answers() {
    live_pid "$CHECK_ROOT/dockerd.pid" >/dev/null && timeout 10 docker info >/dev/null 2>&1
}

# TERM, then KILL after $2 seconds, the process in pidfile $1.
stop_pidfile() {
    local pid
    pid=$(live_pid "$1") || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq "$2"); do kill -0 "$pid" 2>/dev/null || return 0; sleep 1; done
    kill -KILL "$pid" 2>/dev/null || true
}

# The processes of this daemon's containers: their cgroups and the runtime's init.pid files.
container_pids() {
    local id file
    for id in $(ls "$CHECK_ROOT/docker/containers" 2>/dev/null); do
        for file in /sys/fs/cgroup/*/docker/"$id"/cgroup.procs /sys/fs/cgroup/docker/"$id"/cgroup.procs; do
            [ -r "$file" ] && cat "$file"
        done
    done
    for file in "$EXEC_ROOT"/containerd/daemon/io.containerd.runtime.v2.task/*/*/init.pid; do
        live_pid "$file" || true
    done
    return 0
}

# Every process whose command line names this check's root: dockerd, containerd and the
# containerd-shim of each container (`-address $EXEC_ROOT/containerd/containerd.sock`).
root_pids() {
    grep -laF "$CHECK_ROOT/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 | grep -vx "$$"
    return 0
}

# What is still alive (killed processes are zombies until init reaps them: those do not count).
leftovers() {
    local pid
    for pid in $({ container_pids; root_pids; } | sort -u); do
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] || [ ! -e "/proc/$pid" ] \
            || echo -n "$pid "
    done
    if ss -ltnH "sport = :$API_PORT" | grep -q .; then echo "port:$API_PORT"; fi
}

# Containers first (while dockerd can still stop them), then dockerd, then its containerd, then
# whatever a killed daemon left; prints what it finds and fails if anything survives.
teardown() {
    step "teardown: containers, dockerd, containerd, shims"
    if daemon_answers; then
        timeout 120 docker-compose --profile test down -v --remove-orphans -t 10 >/dev/null 2>&1 || true
        local ids
        ids=$(timeout 10 docker ps -aq 2>/dev/null || true)
        [ -n "$ids" ] && { timeout 60 docker rm -f -v $ids >/dev/null 2>&1 || true; }
    fi
    stop_pidfile "$CHECK_ROOT/dockerd.pid" 30
    stop_pidfile "$EXEC_ROOT/containerd/containerd.pid" 10
    local left
    left=$({ container_pids; root_pids; } | sort -u | tr '\n' ' ')
    if [ -n "${left// /}" ]; then
        echo "    killing the container processes and shims the daemon left: $left"
        kill -KILL $left 2>/dev/null || true
        sleep 2
    fi
    for _ in $(seq 10); do
        left=$(leftovers)
        [ -z "${left// /}" ] && break
        sleep 1
    done
    if [ -n "${left// /}" ]; then
        echo "    still running after teardown: $left"
        ps -o pid,args -p "$(echo "$left" | tr ' ' '\n' | grep -E '^[0-9]+$' | paste -sd,)" 2>/dev/null || true
        return 1
    fi
    rm -f "$CHECK_ROOT/dockerd.pid"  # a run that finds it was interrupted and cleans up first
    echo "    nothing left: no dockerd, containerd, shim or container of $CHECK_ROOT, port $API_PORT free"
}

install_engine() {
    command -v dockerd >/dev/null && command -v docker-compose >/dev/null \
        && command -v debootstrap >/dev/null && return
    step "installing docker.io docker-compose debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        docker.io docker-compose debootstrap >/dev/null
}

start_dockerd() {
    step "starting dockerd under $CHECK_ROOT"
    mkdir -p "$CHECK_ROOT"
    rm -f "$CHECK_ROOT/docker.sock"
    dockerd --data-root "$CHECK_ROOT/docker" --exec-root "$EXEC_ROOT" \
        --pidfile "$CHECK_ROOT/dockerd.pid" --host "$DOCKER_HOST" >"$CHECK_ROOT/dockerd.log" 2>&1 9>&- &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { tail -20 "$CHECK_ROOT/dockerd.log"; return 1; }
    # Containers and volumes an interrupted run left in the data root: every start is a first one.
    compose --profile test down -v --remove-orphans >/dev/null 2>&1
}

# The wheels of the three locks, downloaded once per content of the locks and reused after.
wheelhouse() {
    local key cache
    key=$(cat requirements.lock requirements-dev.lock deploy/build.lock | sha256sum | cut -c1-16)
    cache=$CHECK_ROOT/wheelhouse-$key
    step "wheelhouse ${cache##*/}"
    if [ ! -d "$cache" ]; then
        echo "    pip download from the locks (cached for later runs)"
        rm -rf "$cache.part"
        run make --no-print-directory wheelhouse WHEELHOUSE="$cache.part" \
            2> >(grep -v "^WARNING: Location" >&2)
        mv "$cache.part" "$cache"
    fi
    find wheelhouse -name '*.whl' -delete
    cp "$cache"/*.whl wheelhouse/
}

# Every container running (healthy, where it has a healthcheck) or exited 0; fails on any other exit.
wait_for_services() {
    local deadline=$(($(date +%s) + $1)) states pending
    while :; do
        states=$(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" \
            | xargs docker inspect -f \
                '{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}')
        if echo "$states" | awk '$2 == "exited" && $3 != 0' | grep .; then return 1; fi
        pending=$(echo "$states" | awk '!(($2 == "running" && ($4 == "healthy" || $4 == "none")) || ($2 == "exited" && $3 == 0))')
        [ -z "$pending" ] && return 0
        if [ "$(date +%s)" -ge "$deadline" ]; then echo "$pending"; return 1; fi
        sleep 1
    done
}

# One check at a time per CHECK_ROOT: a second one waits (the lock goes with this process).
mkdir -p "$CHECK_ROOT"
exec 9>"$CHECK_ROOT/lock"
if ! flock -n 9; then
    echo "==> waiting for the compose check already running under $CHECK_ROOT"
    flock 9
fi
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -e "$CHECK_ROOT/dockerd.pid" ]; then
    step "cleaning up what an earlier run left"
    teardown
fi
install_engine
start_dockerd
step "base images"
run bash deploy/base-images.sh "$CHECK_ROOT"
. "$CHECK_ROOT/base-images.env"
export PYTHON_IMAGE POSTGRES_IMAGE REDIS_IMAGE NGINX_IMAGE
wheelhouse
step "building the project's images"
run compose --profile test build -q
step "docker compose up --scale worker=3: every service healthy or exited 0"
up_started=$(date +%s)
run compose up -d --scale worker=3
run wait_for_services 300
echo "    first start: $(($(date +%s) - up_started)) s from \`up\` to every service healthy or exited 0"
compose ps
run "$PY" deploy/check_stack.py wait "http://127.0.0.1:$API_PORT" 60
step "the README tour from the host"
run "$PY" deploy/check_stack.py tour "http://127.0.0.1:$API_PORT" "$ADMIN_TOKEN"
step "200 trickling/stalled connections through the proxy"
run "$PY" deploy/check_stack.py slow-clients "http://127.0.0.1:$API_PORT"
step "memory per service"
docker stats --no-stream --format '{{.Name}} {{.MemUsage}}'
step "fault checks (1)-(4)"
run "$PY" -u deploy/faults.py "http://127.0.0.1:$API_PORT"
step "docker compose run --rm test"
run compose --profile test run --rm -T test
step "compose check passed in $(($(date +%s) - START)) s"

#!/usr/bin/env bash
# Builds the images, runs the compose stack for real, drives it from the host like the README's
# tour, checks slow clients through the proxy, runs the test service, and tears everything down.
# Its own dockerd (data root, pidfile) lives under $CHECK_ROOT; nothing is left running after it.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECK_ROOT=${CHECK_ROOT:-/var/tmp/skserve-compose-check}
export DOCKER_HOST="unix://$CHECK_ROOT/docker.sock" DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
export COMPOSE_PROJECT_NAME=skservecheck API_PORT=${API_PORT:-18080} ADMIN_TOKEN=compose-check-token
START=$(date +%s)
compose() { docker-compose "$@"; }

step() { echo "==> [$(( $(date +%s) - START )) s] $*"; }

on_exit() {
    status=$?
    if [ "$status" -ne 0 ] && [ -S "$CHECK_ROOT/docker.sock" ]; then
        step "FAILED (exit $status): logs of every service"
        compose ps || true
        compose logs --no-color --tail 80 || true
    fi
    teardown
    exit "$status"
}

teardown() {
    step "teardown: down -v, dockerd stopped"
    if [ -S "$CHECK_ROOT/docker.sock" ]; then
        compose --profile test down -v --remove-orphans >/dev/null 2>&1 || true
    fi
    if [ -f "$CHECK_ROOT/dockerd.pid" ]; then
        pid=$(cat "$CHECK_ROOT/dockerd.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    fi
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
    dockerd --data-root "$CHECK_ROOT/docker" --exec-root "$CHECK_ROOT/exec" \
        --pidfile "$CHECK_ROOT/dockerd.pid" --host "$DOCKER_HOST" >"$CHECK_ROOT/dockerd.log" 2>&1 &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && return; sleep 1; done
    tail -20 "$CHECK_ROOT/dockerd.log"; return 1
}

trap on_exit EXIT
install_engine
start_dockerd
bash deploy/base-images.sh "$CHECK_ROOT"
. "$CHECK_ROOT/base-images.env"
export PYTHON_IMAGE POSTGRES_IMAGE REDIS_IMAGE NGINX_IMAGE

step "wheelhouse (host pip, from the locks)"
make --no-print-directory wheelhouse 2> >(grep -v '^WARNING: Location' >&2)
step "building the project's images"
compose --profile test build -q
step "docker compose up --scale worker=3"
compose up -d --scale worker=3
.venv/bin/python deploy/check_stack.py wait "http://127.0.0.1:$API_PORT" 180
compose ps
step "the README tour from the host"
.venv/bin/python deploy/check_stack.py tour "http://127.0.0.1:$API_PORT" "$ADMIN_TOKEN"
step "200 trickling/stalled connections through the proxy"
.venv/bin/python deploy/check_stack.py slow-clients "http://127.0.0.1:$API_PORT"
step "memory per service"
docker stats --no-stream --format '{{.Name}} {{.MemUsage}}'
step "docker compose run --rm test"
compose --profile test run --rm test
step "compose check passed in $(( $(date +%s) - START )) s"

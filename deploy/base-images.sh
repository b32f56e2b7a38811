#!/usr/bin/env bash
# Picks the base images for the compose build: upstream when a registry answers, else local
# stand-ins built from Debian's archive (debootstrap, cached under $1). Writes $1/base-images.env.
set -euo pipefail
cd "$(dirname "$0")/base"
ROOT=$1
declare -A UPSTREAM=(
    [PYTHON_IMAGE]=python:3.11.7-slim-bookworm [POSTGRES_IMAGE]=postgres:16
    [REDIS_IMAGE]=redis:7 [NGINX_IMAGE]=nginx:1.27-bookworm
)
declare -A STANDIN=(
    [PYTHON_IMAGE]=python [POSTGRES_IMAGE]=postgres [REDIS_IMAGE]=redis [NGINX_IMAGE]=nginx
)
declare -A DIFFERENCE=(
    [PYTHON_IMAGE]="Debian's Python 3.11.2 instead of 3.11.7" [POSTGRES_IMAGE]="PostgreSQL 15 instead of 16"
    [REDIS_IMAGE]="Redis 7.0 from Debian" [NGINX_IMAGE]="nginx 1.22 from Debian instead of 1.27"
)

debian_base() {
    docker image inspect skserve-local/debian:bookworm >/dev/null 2>&1 && return
    if [ ! -s "$ROOT/debian-bookworm.tar" ]; then
        echo "    debootstrap --variant=minbase bookworm (about a minute, cached for later runs)"
        rm -rf "$ROOT/rootfs"
        debootstrap --variant=minbase bookworm "$ROOT/rootfs" http://deb.debian.org/debian >/dev/null
        tar -C "$ROOT/rootfs" -c . >"$ROOT/debian-bookworm.tar.part"
        mv "$ROOT/debian-bookworm.tar.part" "$ROOT/debian-bookworm.tar"
        rm -rf "$ROOT/rootfs"
    fi
    docker import "$ROOT/debian-bookworm.tar" skserve-local/debian:bookworm >/dev/null
}

: >"$ROOT/base-images.env"
for var in PYTHON_IMAGE POSTGRES_IMAGE REDIS_IMAGE NGINX_IMAGE; do
    image=${UPSTREAM[$var]}
    if docker image inspect "$image" >/dev/null 2>&1 || timeout 30 docker pull -q "$image" >/dev/null 2>&1; then
        echo "==> $var=$image (upstream)"
    else
        name=${STANDIN[$var]}
        image=skserve-local/$name:bookworm
        echo "==> $var=$image: stand-in, no registry reachable (${DIFFERENCE[$var]})"
        debian_base
        docker build -q -f "$name.Dockerfile" -t "$image" . >/dev/null
    fi
    echo "$var=$image" >>"$ROOT/base-images.env"
done

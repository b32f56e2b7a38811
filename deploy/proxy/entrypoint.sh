#!/bin/sh
# Renders the nginx configuration from the environment, then runs nginx.
set -eu
sed -e "s|@MAX_BODY_BYTES@|${MAX_BODY_BYTES:-33554432}|g" \
    -e "s|@PROXY_CLIENT_TIMEOUT@|${PROXY_CLIENT_TIMEOUT:-10}|g" \
    -e "s|@PROXY_UPSTREAM_TIMEOUT@|${PROXY_UPSTREAM_TIMEOUT:-120}|g" \
    -e "s|@API_UPSTREAM@|${API_UPSTREAM:-api:8000}|g" \
    /etc/skserve/nginx.conf.template > /etc/nginx/nginx.conf
exec "$@"

# Stand-in for postgres:16 where no registry is reachable: Debian's PostgreSQL 15, with the
# official image's data directory and POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB handling.
ARG DEBIAN_IMAGE=skserve-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql-15 gosu \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
# Like the official image: SIGINT is a fast shutdown (SIGTERM would wait for every client).
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]

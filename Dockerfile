# syntax=docker/dockerfile:1

# selfeng for Kafka and PostgreSQL (docker-compose.yml runs it: `docker compose up -d`).
#
# The sandbox. Docker's default seccomp profile refuses pivot_root, so bubblewrap (bwrap://)
# cannot start in a container without turning seccomp off; it is not installed. Tools run in
# subprocess://, whose walls work here: a network namespace per sandbox worker (`unshare`,
# from util-linux, part of every Debian image), Landlock and a seccomp filter that refuses
# exec per call, and, as root, a private uid without capabilities per call. The network
# namespace needs root and CAP_SYS_ADMIN in the container, so the compose file runs the
# worker as root with that one capability added; every other command (publish, tail, ask
# --worker, doctor) runs as the unprivileged user below.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/selfeng
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/selfeng/bin/pip install '.[kafka,postgres,openai]'

FROM python:3.11-slim-bookworm
RUN command -v unshare >/dev/null \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/selfeng \
        --shell /usr/sbin/nologin selfeng
COPY --from=build /opt/selfeng /opt/selfeng
ENV PATH=/opt/selfeng/bin:$PATH \
    SELFENG_HOME=/var/lib/selfeng \
    PYTHONUNBUFFERED=1
WORKDIR /var/lib/selfeng
USER selfeng

# `selfeng doctor` opens the log and the store (and the sandbox) and exits non-zero when one
# does not answer: about 11 s for an unreachable Kafka, 1 s for PostgreSQL.
HEALTHCHECK --interval=30s --timeout=30s --start-period=60s --retries=3 CMD ["selfeng", "doctor"]

ENTRYPOINT ["selfeng"]
CMD ["--help"]

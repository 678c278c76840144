# Dockerfile — giftope on Debian bookworm (docs/deploy.md).
#
# Two stages. The build stage installs the build packages of .ci/deps.sh (the
# subset the binary needs: no test or broker tooling) and runs
# deploy/build-image.sh, the one place the build steps live; CI runs that same
# script outside Docker (tools/check_deploy.sh), since no Docker engine runs
# there. The runtime stage holds the binary, its three shared libraries and
# a non-root user whose home, /var/lib/giftope, is the checkpoint volume.
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libzstd-dev libcjson-dev librdkafka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY common/ common/
COPY ingest/ ingest/
COPY policy/ policy/
COPY estimators/ estimators/
COPY ope/ ope/
COPY sim/ sim/
COPY deploy/build-image.sh deploy/
RUN bash deploy/build-image.sh /src /build

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libzstd1 libcjson1 librdkafka1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/giftope \
      --shell /usr/sbin/nologin giftope \
 && install -d -o giftope -g giftope /srv/giftope-truth
COPY --from=build /build/giftope /usr/local/bin/giftope
USER giftope
WORKDIR /var/lib/giftope
# checkpoints; a named volume mounted here starts with this owner
VOLUME ["/var/lib/giftope"]
# Prometheus /metrics of `giftope consume --metrics-addr 0.0.0.0:9464`
EXPOSE 9464
ENTRYPOINT ["giftope"]
CMD ["--help"]

# syntax=docker/dockerfile:1
#
# icmp_exporter image: a static binary (CGO_ENABLED=0) on distroless/static,
# running as nobody (65534), listening on :10427, with config.example.yml as
# the default configuration.
#
#   docker build -t icmp_exporter \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(git log -1 --format=%cI)" .
#   docker run -p 10427:10427 \
#     -v "$PWD/config.yml:/etc/icmp_exporter/config.yml:ro" icmp_exporter
#
# ICMP without root: the default datapath uses ping sockets, which the kernel
# allows to the groups in net.ipv4.ping_group_range. Docker 20.10+ sets that
# sysctl to "0 2147483647" in every container it starts (not with
# --network=host, not in user namespaces); elsewhere pass
#   --sysctl net.ipv4.ping_group_range="0 2147483647"
# or, in Kubernetes, securityContext.sysctls (a "safe" sysctl since 1.18).
# The afpacket datapath needs CAP_NET_RAW: build the `netraw` target below.
# docs/deploy.md explains both, and why a file capability can stop the binary
# from starting.
#
# The build command is the Makefile's `build` target (deploy/dockerfile_test.go
# checks that they stay the same); PF_RING builds use Dockerfile.pfring.

# Multi-architecture: `docker buildx build --platform
# linux/amd64,linux/arm64,linux/arm/v7 .` compiles on the build machine's own
# platform (BUILDPLATFORM) for each TARGETARCH, no emulation (the binary is
# pure Go); the runtime stages only copy files.
#
# Base images are pinned by the digest of their multi-platform index; update
# a pin with `docker buildx imagetools inspect IMAGE:TAG` (deploy/dockerfile_test.go
# checks that every FROM carries one).
ARG GO_VERSION=1.26
ARG GO_DIGEST=sha256:3aff6657219a4d9c14e27fb1d8976c49c29fddb70ba835014f477e1c70636647
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12@sha256:2b0f5abab12e4d6a533b91a4796d10504a05d8c41a61d4969889efb66daafece

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}@${GO_DIGEST} AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# GOARM defaults to 7 for GOARCH=arm: linux/arm/v7 needs no variant here.
ENV GOOS=${TARGETOS} GOARCH=${TARGETARCH}
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w \
      -X github.com/prometheus/common/version.Version=${VERSION} \
      -X github.com/prometheus/common/version.Revision=${REVISION} \
      -X github.com/prometheus/common/version.Branch=main \
      -X github.com/prometheus/common/version.BuildUser=icmp_exporter" \
      -o /out/icmp_exporter .

# The same binary with the file capability cap_net_raw+ep, for the afpacket
# datapath (and raw sockets) as a non-root user. BuildKit (the default builder
# since Docker 23) keeps the security.capability attribute on COPY --from; the
# legacy builder drops it. Such a binary cannot even be executed where the
# runtime removes CAP_NET_RAW from the bounding set (Kubernetes
# `capabilities: drop: [ALL]` without `add: [NET_RAW]`, docker --cap-drop
# NET_RAW): execve fails with EPERM. See docs/deploy.md.
FROM build AS setcap
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libcap2-bin \
 && setcap cap_net_raw+ep /out/icmp_exporter \
 && getcap /out/icmp_exporter

# docker build --target netraw -t icmp_exporter:netraw .
FROM ${RUNTIME_IMAGE} AS netraw
COPY --from=setcap /out/icmp_exporter /bin/icmp_exporter
COPY config.example.yml /etc/icmp_exporter/config.yml
USER 65534:65534
EXPOSE 10427
ENTRYPOINT ["/bin/icmp_exporter"]
CMD ["--config.file=/etc/icmp_exporter/config.yml"]

# Default target: no file capability, starts under any capability set.
FROM ${RUNTIME_IMAGE}
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="icmp_exporter" \
      org.opencontainers.image.description="Prometheus and OpenTelemetry exporter around a continuous ICMP echo engine" \
      org.opencontainers.image.source="https://github.com/icmp-exporter/icmp_exporter" \
      org.opencontainers.image.url="https://github.com/icmp-exporter/icmp_exporter" \
      org.opencontainers.image.documentation="https://github.com/icmp-exporter/icmp_exporter/blob/main/README.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="The icmp_exporter Authors" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12"
COPY --from=build /out/icmp_exporter /bin/icmp_exporter
COPY config.example.yml /etc/icmp_exporter/config.yml
USER 65534:65534
EXPOSE 10427
ENTRYPOINT ["/bin/icmp_exporter"]
CMD ["--config.file=/etc/icmp_exporter/config.yml"]

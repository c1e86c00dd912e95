# syntax=docker/dockerfile:1
# kdbg-agent image. Build from the repository root:
#   docker build -f deploy/images/agent.Dockerfile -t REGISTRY/kdbg-agent:TAG .
#
# Debugger: the bundled Delve builds (tools/delve/vX.Y.Z: 1.26.2 for Go 1.24-1.26, 1.27.2 for Go
# 1.25-1.27; see docs/delve-engine.md), each a Delve new enough for its targets' Go version. Debian
# 12 has no Go that can build them (Delve must be built with Go >= 1.25 to read DWARF 5), so they
# are built on the build host by scripts/delve from the Go module proxy (pinned and checksummed by
# the checked-in go.sum, CGO_ENABLED=0: static) into the build context first:
#   KDBG_CACHE_DIR=$PWD/.kdbg-image scripts/delve
#   docker build -f deploy/images/agent.Dockerfile -t REGISTRY/kdbg-agent:TAG .
# and installed under /usr/lib/kdbg/delve/vX.Y.Z/dlv (the agent's default --dlv list).

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake g++ make pkg-config libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev \
      protobuf-compiler libabsl-dev libcpp-httplib-dev libyaml-cpp-dev \
      nlohmann-json3-dev libssl-dev libelf-dev libdw-dev libcli11-dev libgtest-dev libgmock-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build -j"$(nproc)" --target kdbg-agent \
 && install -D -m 0755 /build/agent/kdbg-agent /out/usr/bin/kdbg-agent
# The Debian packages that provide the shared libraries the binary links (for the runtime stage).
RUN ldd /out/usr/bin/kdbg-agent | awk '$3 ~ /^\// {print $3}' | xargs -r realpath \
      | xargs -r dpkg -S 2>/dev/null | cut -d: -f1 | sort -u >/out/runtime-packages.txt \
 && test -s /out/runtime-packages.txt

FROM debian:12-slim
COPY --from=build /out/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates $(cat /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY .kdbg-image/delve /usr/lib/kdbg/delve
COPY --from=build /out/usr/bin/kdbg-agent /usr/bin/kdbg-agent
# Runs as root with only CAP_SYS_PTRACE (see the DaemonSet): it attaches to processes of any user.
USER 0:0
EXPOSE 7443 7444
ENTRYPOINT ["/usr/bin/kdbg-agent"]
CMD ["serve", "--help"]

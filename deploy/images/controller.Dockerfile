# syntax=docker/dockerfile:1
# kdbg-controller image. Build from the repository root:
#   docker build -f deploy/images/controller.Dockerfile -t REGISTRY/kdbg-controller:TAG .

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
 && cmake --build /build -j"$(nproc)" --target kdbg-controller \
 && install -D -m 0755 /build/controller/kdbg-controller /out/usr/bin/kdbg-controller
RUN ldd /out/usr/bin/kdbg-controller | awk '$3 ~ /^\// {print $3}' | xargs -r realpath \
      | xargs -r dpkg -S 2>/dev/null | cut -d: -f1 | sort -u >/out/runtime-packages.txt \
 && test -s /out/runtime-packages.txt

FROM debian:12-slim
COPY --from=build /out/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates $(cat /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=build /out/usr/bin/kdbg-controller /usr/bin/kdbg-controller
# Unprivileged; the Deployment sets the same user (65532) and a read-only root filesystem.
USER 65532:65532
EXPOSE 7443
ENTRYPOINT ["/usr/bin/kdbg-controller"]

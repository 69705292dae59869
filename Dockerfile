# syntax=docker/dockerfile:1
#
# One build for every binary, then a small non-root image per service:
#
#   docker build --build-arg SERVICE=cart -t cartflow-cart .     # a service (default target)
#   docker build --target cli -t cartflow-cli .                  # the operator CLI
#   docker build --target console -t cartflow-console .          # the web console
#
# SERVICE is one of: order product inventory notification email-push cart customer payment.
# Builds of different services share the build stage (BuildKit caches it), so the
# workspace compiles once.

# The same Rust as CI and Cargo.toml's rust-version (scripts/check_infra.py).
# The digest below is that version's image: change both together.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082 AS build
WORKDIR /src
COPY . .
# The cache mounts keep crates.io downloads and compiled dependencies between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
    && mkdir -p /out \
    && cp target/release/cartflow target/release/*-service /out/

# The operator CLI: provisioning (the compose file's one-shot job), dead letters, timelines.
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f AS cli
COPY --from=build /out/cartflow /usr/local/bin/cartflow
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/cartflow"]

# The web console (`cartflow console`): point CONSOLE_SERVICE_URLS at the services and
# DATABASE_URL at their databases' server (the checkout explorer reads the event log).
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f AS console
COPY --from=build /out/cartflow /usr/local/bin/cartflow
ENV CONSOLE_ADDR=0.0.0.0:8080
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/cartflow", "console"]

# A service. Distroless: no shell, no package manager, runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f AS service
ARG SERVICE
COPY --from=build /out/${SERVICE}-service /usr/local/bin/service
# Cloud Run sets PORT; HOST must be all interfaces inside a container.
ENV HOST=0.0.0.0 \
    PORT=8080 \
    LOG_FORMAT=json
EXPOSE 8080
USER 65532:65532
# The binary checks its own /ready (the image has no curl).
HEALTHCHECK --interval=5s --timeout=4s --start-period=10s --retries=12 \
    CMD ["/usr/local/bin/service", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/service"]

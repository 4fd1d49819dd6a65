# syntax=docker/dockerfile:1
# Keyward: a release build on Debian bookworm, run from distroless cc
# (glibc, CA certificates, no shell) as the nonroot user.

# The toolchain CI builds with; Cargo.lock's dependencies may need more than
# the crate's rust-version.
ARG RUST_VERSION=1.95

# cargo-chef: the dependency graph alone, so dependencies build in a layer
# that changes only when Cargo.toml or Cargo.lock do.
FROM rust:${RUST_VERSION}-bookworm AS chef
RUN cargo install cargo-chef --locked
WORKDIR /build

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /build/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin keyward \
 && install -d -m 0700 /volumes/data /volumes/keys

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=builder /build/target/release/keyward /usr/local/bin/keyward
# Mount points owned by nonroot (65532), so a fresh named volume is
# writable by the server; the rest of the filesystem is not.
COPY --from=builder --chown=65532:65532 /volumes/data /data
COPY --from=builder --chown=65532:65532 /volumes/keys /keys
USER 65532:65532
# Read-only for the server: it writes only to the two volumes. A settings
# file, if any, is mounted and named by KEYWARD_CONFIG.
WORKDIR /

# One setting a line: deploy/smoke.sh runs the release binary with these.
ENV KEYWARD_LISTEN=0.0.0.0:8080
ENV KEYWARD_DATABASE_URL=sqlite:///data/keyward.db
ENV KEYWARD_KEYS_DIR=/keys
ENV KEYWARD_LOG_FORMAT=json
ENV KEYWARD_SHUTDOWN_TIMEOUT_SECONDS=8

EXPOSE 8080
VOLUME ["/data", "/keys"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/keyward", "healthcheck"]
# Docker stops with SIGTERM and kills 10 s later (`docker stop --time`):
# the graceful stop is bounded below that by KEYWARD_SHUTDOWN_TIMEOUT_SECONDS.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/keyward"]
CMD ["serve"]

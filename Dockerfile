# syntax=docker/dockerfile:1
# Mailkeys container image: build with `docker build -t mailkeys .`
# Run:  docker run -d --name mailkeys -p 127.0.0.1:8080:8080 -v mailkeys-data:/data \
#         -e MAILKEYS_PUBLIC_URL=http://localhost:8080 mailkeys
# then `docker logs mailkeys` shows the one-time setup link for the first admin.

########## Build stage ##########
FROM rust:1-bookworm AS builder
WORKDIR /build

# Dependencies first, with placeholder sources: this layer is rebuilt only when
# Cargo.toml or Cargo.lock change, not on every source edit.
# The workspace's other crates (the IMAP engine, the test support) get placeholders too.
COPY Cargo.toml Cargo.lock ./
COPY crates/mailkeys-imap/Cargo.toml crates/mailkeys-imap/
COPY crates/test-support/Cargo.toml crates/test-support/
RUN mkdir -p src benches crates/mailkeys-imap/src crates/test-support/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs crates/mailkeys-imap/src/lib.rs crates/test-support/src/lib.rs \
    && echo 'fn main() {}' > benches/report.rs \
    && cargo build --release --locked \
    && rm -rf src benches crates/mailkeys-imap/src crates/test-support/src \
              target/release/mailkeys* \
              target/release/deps/mailkeys* \
              target/release/deps/libmailkeys* \
              target/release/.fingerprint/mailkeys*

# The real sources. Templates (askama), migrations (sqlx::migrate!) and the breached-password
# list (build.rs makes its fingerprints, include_bytes!) are compiled into the binary, so they are needed here and not at run
# time.
COPY build.rs ./
COPY src ./src
COPY data ./data
COPY crates ./crates
COPY templates ./templates
COPY migrations ./migrations
# Cargo.toml declares the benchmark target; its file must exist even though it is not built.
COPY benches ./benches
RUN cargo build --release --locked \
    && strip target/release/mailkeys

########## Runtime stage ##########
FROM debian:bookworm-slim
# libssl3: webauthn-rs (passkeys) links the system OpenSSL.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system mailkeys \
    && useradd --system --gid mailkeys --home-dir /app --no-create-home \
               --shell /usr/sbin/nologin mailkeys \
    && mkdir -p /app /data \
    && chown mailkeys:mailkeys /data

COPY --from=builder /build/target/release/mailkeys /usr/local/bin/mailkeys
# Static files are read at run time from ./static, relative to the working directory.
WORKDIR /app
COPY static ./static

# The SQLite database lives on the volume; for PostgreSQL, set DATABASE_URL=postgres://…
# Inside a container the service must listen on all interfaces to be reachable through the
# published port (the default, 127.0.0.1:8080, would be unreachable from outside). Publish
# it on the host's loopback (-p 127.0.0.1:8080:8080) behind a TLS reverse proxy.
ENV DATABASE_URL=sqlite:///data/mailkeys.db \
    MAILKEYS_LISTEN=0.0.0.0:8080
VOLUME /data

USER mailkeys
EXPOSE 8080
CMD ["mailkeys", "serve"]

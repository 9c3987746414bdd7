# Latchkey: two commands do everything on a fresh machine.
#
#   make run    install what is missing, build (release), serve on 127.0.0.1:3000
#   make test   install what is missing, run every test (Playwright included)
#
# Every install is guarded, so a machine that already has a tool skips it.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO_LEPTOS_VERSION := 0.3.10
# Must equal the wasm-bindgen crate version pinned in Cargo.toml.
WASM_BINDGEN_VERSION := 0.2.130

# Binaries built with this carry the front end in target/site inside themselves (see
# server/src/assets/): what `make run`, `make dist` and the tests run. Without it (cargo
# leptos watch, cargo leptos end-to-end) the server serves target/site from disk.
CARRY_SITE := LATCHKEY_EMBED_SITE=target/site

CARGO_BIN := $(HOME)/.cargo/bin
# Binaryen's wasm-opt from the npm registry (tools/), found first by cargo-leptos.
TOOLS_BIN := $(CURDIR)/tools/node_modules/.bin
export PATH := $(TOOLS_BIN):$(CARGO_BIN):$(PATH)
# Playwright drives Debian's Chromium; it must never download a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

# apt-get needs root; use sudo when we are not root and sudo exists.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help deps deps-rust deps-system deps-node deps-tools build build-release site run test \
        check dist fmt unit e2e e2e-shuffled screenshots fuzz bench bench-needs-nginx bench-smoke clean

help:
	@echo "make run    build and serve Latchkey on http://127.0.0.1:3000 (data in data/)"
	@echo "make test   run every test: fmt, clippy, unit, integration, Playwright"

# ---------------------------------------------------------------- installs --

deps: deps-rust deps-system deps-node deps-tools

# The build tools are installed as debug builds: their own speed barely matters (they
# spawn cargo and run for seconds), their compile time does (cargo-leptos took 14 minutes
# in release on a quiet 2-core machine; docs/testing.md has what the debug build took).
deps-rust:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
	  || rustup target add wasm32-unknown-unknown
	@if ! cargo leptos --version 2>/dev/null | grep -q "$(CARGO_LEPTOS_VERSION)"; then \
	  echo "installing cargo-leptos $(CARGO_LEPTOS_VERSION) (a few minutes, once)"; \
	  cargo install --debug --locked cargo-leptos@$(CARGO_LEPTOS_VERSION); \
	fi
	@# No --locked: wasm-bindgen-cli's own lockfile names a yanked crate.
	@if ! wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)"; then \
	  echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (a minute or two, once)"; \
	  cargo install --debug wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); \
	fi

# nginx and Caddy are the real proxies the gate's Playwright specs run behind
# (end2end/gate-setup.ts starts its own unprivileged instances on loopback ports), and
# PostgreSQL is the server testkit::postgres starts throwaway clusters of (its binaries
# live in /usr/lib/postgresql/VERSION/bin, which is what the guard looks for; pgbench
# comes with it). Installing them must not start a system-wide server (nginx and Caddy
# on port 80, PostgreSQL's own cluster on 5432): while apt-get runs, a policy-rc.d that
# answers 101 ("action forbidden") tells invoke-rc.d and deb-systemd-invoke to start
# nothing; one that is already there (as in containers) is left alone.
deps-system:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	[ -x /usr/bin/caddy ] || missing="$$missing caddy"; \
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing with apt-get"; \
	  policy=""; \
	  if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    policy=/usr/sbin/policy-rc.d; \
	    printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee $$policy >/dev/null; \
	    $(SUDO) chmod 755 $$policy; \
	    trap '$(SUDO) rm -f '"$$policy" EXIT; \
	  fi; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

deps-node: end2end/node_modules/.installed

end2end/node_modules/.installed: end2end/package.json end2end/package-lock.json
	cd end2end && npm ci --no-audit --no-fund
	touch $@

# wasm-opt for release WASM. Debian's binaryen (108) reads the reference-typed module
# Rust 1.95 and wasm-bindgen produce but writes one whose externref table rejects JS
# values, so the page never hydrates; Binaryen 132 from npm handles it.
deps-tools: tools/node_modules/.installed

tools/node_modules/.installed: tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund
	touch $@

# ------------------------------------------------------------------ builds --

build: deps-rust deps-system deps-tools
	cargo leptos build

# The release binary carries the front end (server/build.rs reads LATCHKEY_EMBED_SITE).
# The front end (in target/front) and the server with its dependencies (in target/release)
# build side by side; once the site is whole, the server crate alone is built again with
# the site inside it.
build-release: deps-rust deps-tools
	@$(MAKE) --no-print-directory site & front=$$!; \
	cargo leptos build --release --server-only || { kill $$front; exit 1; }; \
	wait $$front
	$(CARRY_SITE) cargo leptos build --release --server-only

# -------------------------------------------------------------------- run --

run: build-release
	@mkdir -p -m 700 data
	@echo
	@echo "Latchkey is starting on http://127.0.0.1:3000 (database data/latchkey.db, mail in data/outbox/)."
	@echo "To let the first coworker in, in another terminal:"
	@echo "  target/release/latchkey coworker add you@example.com --name 'Your Name'"
	@echo "  target/release/latchkey signin-link you@example.com    # prints a one-time sign-in URL"
	@echo "Later sign-in links and invitations are written to data/outbox/ as .eml files"
	@echo "unless LATCHKEY_SMTP_URL is set (see docs/configuration.md)."
	@echo
	LEPTOS_SITE_ADDR=$${LEPTOS_SITE_ADDR:-127.0.0.1:3000} target/release/latchkey serve

# -------------------------------------------------------------------- dist --

# One file to deploy, with what goes beside it: the release binary (carrying the front
# end), the README, LICENSE, docs/ (the gate's proxy files, the systemd unit and the
# reference). docs/deploying.md says what to do with it.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
DIST_NAME := latchkey-$(VERSION)-$(shell uname -m)-linux
dist: build-release
	rm -rf dist/$(DIST_NAME) dist/$(DIST_NAME).tar.gz
	mkdir -p dist/$(DIST_NAME)
	install -m 755 target/release/latchkey dist/$(DIST_NAME)/latchkey
	cp README.md LICENSE docs/systemd/latchkey.service dist/$(DIST_NAME)/
	cp -r docs dist/$(DIST_NAME)/docs
	tar -C dist --owner=0 --group=0 -czf dist/$(DIST_NAME).tar.gz $(DIST_NAME)
	rm -rf dist/$(DIST_NAME)
	@echo "wrote dist/$(DIST_NAME).tar.gz"

# ------------------------------------------------------------------ tests --

# `cargo test --workspace` builds target/debug/latchkey once, with one set of features,
# for the integration tests, the benchmark's smoke run (bench/tests/smoke.rs, which needs
# the front end `site` builds) and the Playwright suite, which runs that same binary
# against the front end built by cargo-leptos.
test: deps check site unit e2e-shuffled
	@# The browser flows once more on a PostgreSQL-backed server (the gate's own Latchkey
	@# stays on SQLite): with-postgres starts a throwaway cluster and removes it afterwards.
	cd end2end && $(CARRY_SITE) ../target/debug/with-postgres npx playwright test --project=chromium \
	  --shuffle=$(E2E_SEED)
	@echo "all tests passed (Playwright's order: E2E_SEED=$(E2E_SEED))"

# No spec may rely on another having run before it: the Playwright suite runs its spec
# files in an order shuffled by E2E_SEED, printed first; `make test E2E_SEED=N` (or
# `make e2e-shuffled E2E_SEED=N`, with the front end and server already built) replays
# an order.
E2E_SEED ?= $(shell echo $$(( (RANDOM << 15) | RANDOM )))
override E2E_SEED := $(E2E_SEED)
e2e-shuffled: deps-node
	@echo "Playwright runs its specs in a shuffled order: E2E_SEED=$(E2E_SEED) replays it"
	cd end2end && $(CARRY_SITE) npx playwright test --shuffle=$(E2E_SEED)

fmt:
	cargo fmt --all

check: deps-rust
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p frontend -p app --features app/hydrate --target wasm32-unknown-unknown -- -D warnings

unit: site
	$(CARRY_SITE) cargo test --workspace
	@# The integration suite once more, on PostgreSQL: with-postgres (testkit) starts a
	@# throwaway cluster on a free loopback port and removes it afterwards, failed or not.
	cargo build -p testkit --bin with-postgres
	$(CARRY_SITE) target/debug/with-postgres cargo test -p server --test api

# Just the front end (WASM, JS, CSS, public/) into target/site, built as `make run` builds
# it (release, through wasm-opt), so the Playwright suite tests what users get.
site: deps-rust deps-tools
	cargo leptos build --release --frontend-only

# Build everything as `make test` does and run only the Playwright suite.
e2e: deps-node site
	$(CARRY_SITE) cargo build -p server --bin latchkey
	cd end2end && $(CARRY_SITE) npx playwright test

# The README's screenshots, taken by the Playwright suite's accessibility walk.
screenshots: deps-node build
	cd end2end && SCREENSHOT_DIR=docs/screenshots npx playwright test accessibility

# The benchmark (see bench/README.md): release server, fresh SQLite file, one run.
# Writes bench/results/DATE.json and prints the table. The gate's part runs nginx in front
# of a static page, so nginx must be installed (deps-system installs it).
bench: deps-rust deps-system deps-node bench-needs-nginx build-release
	cargo build --release -p bench
	target/release/latchkey-bench --server target/release/latchkey --site target/site --out bench/results

# Checked after deps-system (which installs nginx) and before the long release build.
bench-needs-nginx:
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { \
	  echo "make bench needs nginx for the gate's part: apt-get install -y nginx" >&2; exit 1; }

# The same code with tiny counts against the debug server `cargo test` builds: it fails on
# any wrong answer (not on speed), so the benchmark cannot rot. `make test` runs it as part
# of `unit`; this runs only it.
bench-smoke: site
	$(CARRY_SITE) cargo test --workspace --test smoke

# Coverage-guided fuzzing of the token and email parsers (fuzz/), FUZZ_SECONDS per target.
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP lets the stable toolchain take them.
FUZZ_SECONDS ?= 60
fuzz:
	@cargo fuzz --version >/dev/null 2>&1 || cargo install --locked cargo-fuzz
	for target in token email; do \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run $$target -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

clean:
	cargo clean
	rm -rf dist end2end/node_modules end2end/test-results end2end/playwright-report tools/node_modules

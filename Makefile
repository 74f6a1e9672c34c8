# Thin wrapper over CMake (as neovim does). `make run` and `make test` are the
# README's quick start: each installs the Debian packages it is missing first.

# The one list of Debian 12 packages ird builds, runs and is tested with.
DEBIAN_PACKAGES := build-essential cmake pkg-config libuv1-dev libcurl4-openssl-dev \
	libcjson-dev libconfig-dev node-llhttp libsqlite3-dev libyaml-dev libssl-dev \
	openssl sqlite3 curl python3 python3-jsonschema prometheus-alertmanager nghttp2-server
# Only for `make bench`: the reference servers and the load generator.
BENCH_PACKAGES := wrk nginx-light webhook

BUILD ?= build
BUILD_ASAN ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CONFIG ?= etc/ird.conf

.PHONY: all deps bench-deps build run test bench clean

all: build

# Install whatever is missing (needs root; a no-op when all are present).
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

bench-deps:
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="$(BENCH_PACKAGES)"

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIRD_TESTS=OFF
	cmake --build $(BUILD) -j $(JOBS)

# The main job on the shipped default config: dry-run, SQLite state in
# ./state, the bundled playbooks, loopback listeners. Tokens for the sample
# source and the operator API are made on first run, under ./state/tokens.
run: build
	@mkdir -p state/tokens && chmod 700 state/tokens
	@for t in alertmanager admin; do [ -s state/tokens/$$t ] || (umask 077; openssl rand -hex 24 > state/tokens/$$t); done
	@echo "ird: tokens in state/tokens/ (alertmanager: webhook bearer token; admin: operator API)"
	@echo "ird: try  curl -H \"Authorization: Bearer \$$(cat state/tokens/admin)\" http://127.0.0.1:9411/v1/incidents"
	exec ./$(BUILD)/ird serve -c $(CONFIG)

# The whole suite, built with AddressSanitizer and UndefinedBehaviorSanitizer.
# The optimized build is compiled too, with -Werror: -O2 finds warnings -O0 does not.
test: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIRD_WERROR=ON -DIRD_TESTS=OFF
	cmake --build $(BUILD) -j $(JOBS)
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DIRD_SANITIZE=ON -DIRD_WERROR=ON
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ctest --output-on-failure -j $(JOBS)

bench: deps bench-deps build
	bench/http/run $(BUILD)/ird
	bench/intake/run $(BUILD)/ird
	bench/engine/run $(BUILD)/ird
	bench/containment/run $(BUILD)/ird

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)

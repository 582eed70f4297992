#!/usr/bin/env bash
# Installs the system services the test suite needs, if they are missing:
#   - chromium    (headless browser for the e2e tests, driven by Playwright)
#   - postgresql  (initdb/pg_ctl to start throwaway clusters in the tests)
#   - openjdk-17-jre-headless (java, for the local Apache Spark of the spark tests)
# Uses apt-get (Debian/Ubuntu); sudo only when not already root.
# Does nothing at all when all are already present.
set -euo pipefail

CHROMIUM="${JOURNEY_CHROMIUM:-/usr/bin/chromium}"

# Succeeds if some PostgreSQL server bin dir with initdb and pg_ctl exists.
have_postgres() {
    local d
    if [ -n "${JOURNEY_PG_BIN:-}" ] && [ -x "$JOURNEY_PG_BIN/initdb" ] && [ -x "$JOURNEY_PG_BIN/pg_ctl" ]; then
        return 0
    fi
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            return 0
        fi
    done
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}

packages=()
if [ -x "$CHROMIUM" ]; then
    echo "test-deps: chromium found at $CHROMIUM"
else
    packages+=(chromium)
fi
if have_postgres; then
    echo "test-deps: PostgreSQL server binaries (initdb, pg_ctl) found"
else
    packages+=(postgresql)
fi
if command -v java >/dev/null 2>&1 || [ -x "${JAVA_HOME:-/nonexistent}/bin/java" ]; then
    echo "test-deps: java found"
else
    packages+=(openjdk-17-jre-headless)
fi

if [ "${#packages[@]}" -eq 0 ]; then
    echo "test-deps: nothing to install"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "test-deps: ERROR: missing ${packages[*]} and apt-get is not available;" >&2
    echo "test-deps:        install them with your package manager (or set JOURNEY_CHROMIUM / JOURNEY_PG_BIN)" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "test-deps: ERROR: need root or sudo to install ${packages[*]}" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

echo "test-deps: installing ${packages[*]} with apt-get"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
echo "test-deps: done"

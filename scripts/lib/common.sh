# shellcheck shell=bash
# Helpers shared by scripts/run, scripts/test and scripts/lib/services.sh.
# Sourced, never executed: the caller owns `set -euo pipefail`. Functions
# return non-zero instead of relying on `set -e`, because `set -e` is
# silently off inside any function that is called from `if`, `||` or `&&`.

[[ -n "${PSIG_COMMON_SH:-}" ]] && return 0
PSIG_COMMON_SH=1

# Debian packages the build, the tests and the private servers need. One
# array so that adding a dependency is a one-line change.
PSIG_DEPS=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libpqxx-dev libhiredis-dev libnats-dev
  nlohmann-json3-dev libspdlog-dev libssl-dev libgtest-dev libgmock-dev
  postgresql postgresql-contrib nats-server redis-server
  curl ca-certificates
)

# Node.js and npm run the browser example's test (tests/js, scripts/test
# only). Added to PSIG_DEPS only when `node` is missing: a Node.js from
# elsewhere (NodeSource's bundles npm and conflicts with Debian's npm
# package) must be used as it is, not fought with apt.
psig_want_node() {
  command -v node >/dev/null 2>&1 || PSIG_DEPS+=(nodejs npm)
}

# Installs tests/js/node_modules from package-lock.json (npm ci) when it is
# missing or older than the lock file, so a second run is instant and
# offline. npm output goes to .run/npm.log, shown only when npm fails.
psig_js_deps() {
  local root dir log
  root="$(psig_root)"
  dir="${root}/tests/js"
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    psig_log "node and npm are needed for tests/js (node: $(command -v node || echo none)," \
      "npm: $(command -v npm || echo none)); install the missing one"
    return 1
  fi
  [[ -d "${dir}/node_modules" && ! "${dir}/package-lock.json" -nt "${dir}/node_modules" ]] &&
    return 0
  mkdir -p "${root}/.run" || return 1
  log="${root}/.run/npm.log"
  psig_log "installing the packages of tests/js (log: ${log})"
  if ! npm ci --prefix "${dir}" --no-audit --no-fund >"${log}" 2>&1; then
    psig_log "npm ci failed; last lines of ${log}:"
    tail -n 40 "${log}" >&2
    return 1
  fi
  # npm ci may keep the directory itself: mark it as made from this lock file.
  touch "${dir}/node_modules"
}

# Repository root, derived from this file's location so that the scripts
# work from any current directory and from any clone path.
psig_root() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
}

# Progress and errors go to stderr: stdout stays free for the daemon and
# for values returned through $(...).
psig_log() {
  printf '[psig] %s\n' "$*" >&2
}

psig_die() {
  psig_log "error: $*"
  exit 1
}

# Run a command as root: CI and the dev machines are root already, a
# developer's own machine may not be.
psig_sudo() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    psig_log "need root for: $* (no sudo found)"
    return 1
  fi
}

# Prints the packages of PSIG_DEPS that are not installed, one per line.
# A single dpkg-query call keeps the everything-installed case in the
# millisecond range; unknown packages produce no line and count as missing.
psig_missing_deps() {
  local -A installed=()
  local pkg status
  while read -r pkg status; do
    [[ "${status}" == *" installed" ]] && installed["${pkg}"]=1
  done < <(dpkg-query -W -f='${Package} ${Status}\n' "${PSIG_DEPS[@]}" 2>/dev/null || true)
  for pkg in "${PSIG_DEPS[@]}"; do
    [[ -n "${installed[${pkg}]:-}" ]] || printf '%s\n' "${pkg}"
  done
}

# Installs only what is missing, so a second run is instant and offline.
# apt output goes to .run/install.log and is shown only when apt fails.
psig_install_deps() {
  local -a missing
  mapfile -t missing < <(psig_missing_deps)
  ((${#missing[@]} == 0)) && return 0

  local root log
  root="$(psig_root)"
  mkdir -p "${root}/.run"
  log="${root}/.run/install.log"
  psig_log "installing ${#missing[@]} package(s): ${missing[*]} (log: ${log})"
  # env instead of an exported variable: sudo drops the environment.
  if ! {
    psig_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      psig_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}"
  } >"${log}" 2>&1; then
    psig_log "package installation failed; last lines of ${log}:"
    tail -n 40 "${log}" >&2
    return 1
  fi
}

# Configures (only when needed) and builds one of the two build trees:
#   release -> build/release, Release
#   test    -> build/test, Debug with the test targets
# PSIG_CMAKE_ARGS adds cmake arguments; PSIG_JOBS overrides the job count.
psig_build() {
  local kind="${1:?psig_build needs release|test}"
  local root dir
  local -a args
  root="$(psig_root)"
  case "${kind}" in
    release)
      dir="${root}/build/release"
      args=(-DCMAKE_BUILD_TYPE=Release)
      ;;
    test)
      dir="${root}/build/test"
      # Tests run under AddressSanitizer + UBSan: a memory error fails the run.
      args=(-DCMAKE_BUILD_TYPE=Debug -DPSIG_BUILD_TESTS=ON -DPSIG_SANITIZE=ON)
      ;;
    *)
      psig_log "psig_build: unknown kind '${kind}' (release|test)"
      return 1
      ;;
  esac
  [[ -f "${root}/CMakeLists.txt" ]] || {
    psig_log "no CMakeLists.txt in ${root}"
    return 1
  }

  local -a extra=()
  read -r -a extra <<<"${PSIG_CMAKE_ARGS:-}"
  local stamp="${dir}/.psig_cmake_args"
  local wanted="${args[*]} ${extra[*]}"

  # A cache made by another generator makes cmake refuse to configure, so
  # drop it; changed PSIG_CMAKE_ARGS must reach the cache too. Otherwise
  # skip configuring: `cmake --build` re-runs it when CMakeLists change.
  local cache="${dir}/CMakeCache.txt"
  if [[ -f "${cache}" ]] && ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' "${cache}"; then
    psig_log "${dir} was configured with another generator; reconfiguring with Ninja"
    rm -rf "${cache}" "${dir}/CMakeFiles"
  fi
  if [[ ! -f "${cache}" || "$(cat "${stamp}" 2>/dev/null)" != "${wanted}" ]]; then
    psig_log "configuring ${dir}"
    cmake -S "${root}" -B "${dir}" -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
      "${args[@]}" "${extra[@]}" || return 1
    printf '%s' "${wanted}" >"${stamp}"
  fi
  psig_log "building ${dir}"
  cmake --build "${dir}" -j "${PSIG_JOBS:-2}"
}

# True when something accepts connections on 127.0.0.1:PORT.
psig_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/${1}") 2>/dev/null
}

# True when PORT is taken: a listener answers on 127.0.0.1, or any local
# socket (listening on another address, or an outgoing connection's local
# end) holds the port, which would make bind() fail.
psig_port_in_use() {
  local port="$1" hex f
  psig_port_open "${port}" && return 0
  printf -v hex '%04X' "${port}"
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r "${f}" ]] && grep -Eq "^ *[0-9]+: [0-9A-F]+:${hex} " "${f}" && return 0
  done
  return 1
}

# Prints a free TCP port in 20000-60999, never a fixed one, so several
# checkouts, CI and a developer's servers can run side by side. Ports
# given as arguments are skipped: they were picked for servers that are
# not listening yet.
psig_free_port() {
  local port try taken
  for ((try = 0; try < 500; try++)); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 41000))
    for taken in "$@"; do
      [[ "${taken}" == "${port}" ]] && continue 2
    done
    psig_port_in_use "${port}" || {
      printf '%s\n' "${port}"
      return 0
    }
  done
  psig_log "no free TCP port found in 20000-60999"
  return 1
}

# True when PID runs; a zombie (exited, not yet reaped) counts as gone.
psig_pid_alive() {
  local pid="${1:-}" stat
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  kill -0 "${pid}" 2>/dev/null || return 1
  stat="$(cat "/proc/${pid}/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat%% *}" != Z ]]
}

# Stops PID: SIGTERM, up to TIMEOUT seconds for a clean exit, then SIGKILL.
# Always returns 0 so that it is safe in traps.
psig_stop_pid() {
  local pid="$1" name="$2" timeout="${3:-10}" end
  psig_pid_alive "${pid}" || return 0
  kill -TERM "${pid}" 2>/dev/null || true
  end=$((SECONDS + timeout))
  while psig_pid_alive "${pid}"; do
    if ((SECONDS >= end)); then
      psig_log "${name} (pid ${pid}) did not stop within ${timeout}s; killing it"
      kill -KILL "${pid}" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  # Reap it when it is our child; harmless (127) when it is not.
  wait "${pid}" 2>/dev/null || true
  return 0
}

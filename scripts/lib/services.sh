# shellcheck shell=bash
# Private PostgreSQL, NATS (JetStream) and Redis for one state directory
# (.run/dev for scripts/run, .run/test for scripts/test): bound to
# 127.0.0.1 on free ports, never the system services, and stopped again by
# psig_services_stop. Files in the state directory:
#   owner             pid of the script that started the servers
#   pg.root           where PostgreSQL's data/, sock/ and postgres.log are
#   nats.pid/.log     nats-server, JetStream store in nats/
#   redis.pid/.log    redis-server, working dir redis/
#   env               the exported URLs, for `source .run/dev/env`

[[ -n "${PSIG_SERVICES_SH:-}" ]] && return 0
PSIG_SERVICES_SH=1

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Upper bound for every start-up and shutdown wait, in seconds.
PSIG_WAIT_SECS="${PSIG_WAIT_SECS:-30}"

# Ports handed out during this start, so that two servers that are not
# listening yet never get the same one.
PSIG_SVC_PORTS=()

# Sets PSIG_SVC_PORT to a fresh free port. A global, not $(...): the list
# of handed-out ports must survive the call.
psig_svc_port() {
  PSIG_SVC_PORT="$(psig_free_port "${PSIG_SVC_PORTS[@]}")" || return 1
  PSIG_SVC_PORTS+=("${PSIG_SVC_PORT}")
}

psig_svc_show_log() {
  local name="$1" log="$2"
  if [[ -r "${log}" ]]; then
    psig_log "last lines of ${name}'s log ${log}:"
    tail -n 25 "${log}" >&2
  else
    psig_log "${name} left no log at ${log}"
  fi
}

# Polls COMMAND until it succeeds, at most PSIG_WAIT_SECS; fails early when
# the server process PID (optional) has exited. Names the server and shows
# its log on failure.
psig_svc_wait() {
  local name="$1" log="$2" pid="$3" end
  shift 3
  end=$((SECONDS + PSIG_WAIT_SECS))
  until "$@" >/dev/null 2>&1; do
    if [[ -n "${pid}" ]] && ! psig_pid_alive "${pid}"; then
      psig_log "${name} exited during start-up"
      psig_svc_show_log "${name}" "${log}"
      return 1
    fi
    if ((SECONDS >= end)); then
      psig_log "${name} was not ready within ${PSIG_WAIT_SECS}s"
      psig_svc_show_log "${name}" "${log}"
      return 1
    fi
    sleep 0.1
  done
}

# True when another live process owns DIR's servers: then neither start
# nor stop may touch them (e.g. a second scripts/run in another terminal).
psig_svc_foreign_owner() {
  local pid
  pid="$(cat "$1/owner" 2>/dev/null)" || return 1
  [[ "${pid}" != "$$" ]] && psig_pid_alive "${pid}"
}

# --- PostgreSQL ------------------------------------------------------------

psig_pg_bindir() {
  local dir
  if [[ -n "${PSIG_PG_BIN:-}" ]]; then
    printf '%s\n' "${PSIG_PG_BIN}"
    return 0
  fi
  if [[ -x /usr/lib/postgresql/15/bin/postgres ]]; then
    printf '%s\n' /usr/lib/postgresql/15/bin
    return 0
  fi
  # Not Debian 12: take the newest installed major version.
  dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "${dir}" ]] || {
    psig_log "PostgreSQL server binaries not found under /usr/lib/postgresql"
    return 1
  }
  printf '%s\n' "${dir}"
}

# Runs a PostgreSQL server tool. PostgreSQL refuses to run as root, so as
# root it runs as user postgres, from a directory postgres may enter (the
# tools complain about an unreadable current directory such as /root).
psig_pg_as_owner() {
  local pgroot="$1"
  shift
  if ((EUID == 0)); then
    (cd "${pgroot}" && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# True when user postgres can reach DIR through every parent directory.
psig_pg_reachable() {
  ((EUID != 0)) || runuser -u postgres -- test -x "$1" 2>/dev/null
}

# Prints the directory that holds data/, sock/ and postgres.log, creating
# it when needed. Normally STATE_DIR/pg; as root, when postgres cannot
# traverse to STATE_DIR (a clone under /root, mode 700), a directory under
# /tmp instead. pg.root records the choice so that the next start reuses
# the cluster and stop finds it.
psig_pg_root() {
  local dir="$1" pgroot=""
  if ((EUID == 0)) && ! id -u postgres >/dev/null 2>&1; then
    psig_log "user postgres does not exist (is the postgresql package installed?)"
    return 1
  fi
  if [[ -f "${dir}/pg.root" ]]; then
    pgroot="$(cat "${dir}/pg.root")"
    if [[ ! -d "${pgroot}" ]] || ! psig_pg_reachable "$(dirname "${pgroot}")"; then
      pgroot=""
    fi
  fi
  if [[ -z "${pgroot}" ]]; then
    if psig_pg_reachable "${dir}"; then
      pgroot="${dir}/pg"
      mkdir -p "${pgroot}" || return 1
    else
      pgroot="$(mktemp -d /tmp/psig-pg.XXXXXX)" || return 1
      psig_log "user postgres cannot reach ${dir}; PostgreSQL data goes to ${pgroot}"
    fi
    printf '%s\n' "${pgroot}" >"${dir}/pg.root"
  fi
  if ((EUID == 0)) && [[ "$(stat -c %U "${pgroot}")" != postgres ]]; then
    chown -R postgres:postgres "${pgroot}" || return 1
  fi
  printf '%s\n' "${pgroot}"
}

psig_pg_start() {
  local dir="$1" mode="$2"
  local bindir pgroot data log sock port opts
  bindir="$(psig_pg_bindir)" || return 1
  pgroot="$(psig_pg_root "${dir}")" || return 1
  data="${pgroot}/data"
  log="${pgroot}/postgres.log"
  sock="${pgroot}/sock"

  # PG_VERSION is written last-ish by initdb; without it the directory is
  # a half-made cluster from an interrupted run.
  if [[ ! -f "${data}/PG_VERSION" ]]; then
    rm -rf "${data}"
    local -a initdb=("${bindir}/initdb" -D "${data}" -U psig --auth=trust -E UTF8 --no-locale)
    [[ "${mode}" == test ]] && initdb+=(--no-sync)
    psig_log "creating PostgreSQL cluster in ${data}"
    if ! psig_pg_as_owner "${pgroot}" "${initdb[@]}" >"${dir}/initdb.log" 2>&1; then
      psig_log "initdb failed"
      psig_svc_show_log initdb "${dir}/initdb.log"
      return 1
    fi
  fi

  psig_svc_port || return 1
  port="${PSIG_SVC_PORT}"
  # Unix socket paths are limited to 107 bytes; in a deep checkout do
  # without the socket (everything connects over TCP anyway).
  ((${#sock} + 20 > 107)) && sock=""
  [[ -z "${sock}" ]] || mkdir -p "${sock}"
  [[ -z "${sock}" ]] || ((EUID != 0)) || chown postgres:postgres "${sock}"
  # pg_ctl hands -o to /bin/sh, hence the quoting of the socket path.
  opts="-p ${port} -c listen_addresses=127.0.0.1 -k $(printf '%q' "${sock}")"
  if [[ "${mode}" == test ]]; then
    # Throw-away data: durability only costs time. Tests open pools in
    # several processes at once, hence the higher connection limit.
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    opts+=" -c max_connections=200"
  fi
  # PSIG_PG_EXTRA_OPTS: more server options, say for profiling
  # (-c shared_preload_libraries=pg_stat_statements).
  opts+=" ${PSIG_PG_EXTRA_OPTS:-}"
  psig_log "starting PostgreSQL on 127.0.0.1:${port}"
  if ! psig_pg_as_owner "${pgroot}" "${bindir}/pg_ctl" start -D "${data}" -l "${log}" \
    -w -t "${PSIG_WAIT_SECS}" -o "${opts}" >"${dir}/pg_ctl.log" 2>&1; then
    psig_log "PostgreSQL did not start within ${PSIG_WAIT_SECS}s"
    cat "${dir}/pg_ctl.log" >&2
    psig_svc_show_log PostgreSQL "${log}"
    return 1
  fi
  psig_svc_wait PostgreSQL "${log}" "" \
    "${bindir}/pg_isready" -q -h 127.0.0.1 -p "${port}" -U psig -d postgres || return 1

  local -a psql=("${bindir}/psql" -X -q -h 127.0.0.1 -p "${port}" -U psig)
  if [[ "$("${psql[@]}" -d postgres -tAc \
    "select 1 from pg_database where datname = 'projectsignal'")" != 1 ]]; then
    "${psql[@]}" -d postgres -c 'create database projectsignal' >/dev/null || {
      psig_log "could not create database projectsignal"
      return 1
    }
  fi
  export PSIG_DATABASE_URL="postgresql://psig@127.0.0.1:${port}/projectsignal"
  export PSIG_PG_ADMIN_URL="postgresql://psig@127.0.0.1:${port}/postgres"
}

# Stops the cluster recorded in DIR/pg.root if it runs: a fast shutdown,
# then an immediate one, then SIGKILL. The data directory stays for reuse.
psig_pg_stop() {
  local dir="$1" bindir pgroot data pid
  [[ -f "${dir}/pg.root" ]] || return 0
  pgroot="$(cat "${dir}/pg.root")"
  data="${pgroot}/data"
  [[ -f "${data}/postmaster.pid" ]] || return 0
  bindir="$(psig_pg_bindir)" || return 0
  psig_pg_as_owner "${pgroot}" "${bindir}/pg_ctl" status -D "${data}" >/dev/null 2>&1 || return 0
  pid="$(head -n 1 "${data}/postmaster.pid" 2>/dev/null)" || true
  psig_log "stopping PostgreSQL"
  psig_pg_as_owner "${pgroot}" "${bindir}/pg_ctl" stop -D "${data}" -m fast -w \
    -t "${PSIG_WAIT_SECS}" >/dev/null 2>&1 && return 0
  psig_log "PostgreSQL did not stop within ${PSIG_WAIT_SECS}s; immediate shutdown"
  psig_pg_as_owner "${pgroot}" "${bindir}/pg_ctl" stop -D "${data}" -m immediate -w \
    -t 10 >/dev/null 2>&1 && return 0
  [[ -n "${pid}" ]] && kill -KILL "${pid}" 2>/dev/null
  return 0
}

# --- NATS and Redis ----------------------------------------------------------

psig_nats_start() {
  local dir="$1" port pid
  psig_svc_port || return 1
  port="${PSIG_SVC_PORT}"
  mkdir -p "${dir}/nats"
  psig_log "starting NATS (JetStream) on 127.0.0.1:${port}"
  nats-server -js -a 127.0.0.1 -p "${port}" -sd "${dir}/nats" \
    </dev/null >"${dir}/nats.log" 2>&1 &
  pid=$!
  printf '%s\n' "${pid}" >"${dir}/nats.pid"
  psig_svc_wait NATS "${dir}/nats.log" "${pid}" psig_port_open "${port}" || return 1
  export PSIG_NATS_URL="nats://127.0.0.1:${port}"
}

psig_redis_ping() {
  [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]
}

psig_redis_start() {
  local dir="$1" port pid
  psig_svc_port || return 1
  port="${PSIG_SVC_PORT}"
  mkdir -p "${dir}/redis"
  psig_log "starting Redis on 127.0.0.1:${port}"
  # No persistence: the daemon keeps only presence and rate-limit state.
  redis-server --bind 127.0.0.1 --port "${port}" --dir "${dir}/redis" \
    --save '' --appendonly no --daemonize no \
    </dev/null >"${dir}/redis.log" 2>&1 &
  pid=$!
  printf '%s\n' "${pid}" >"${dir}/redis.pid"
  psig_svc_wait Redis "${dir}/redis.log" "${pid}" psig_redis_ping "${port}" || return 1
  export PSIG_REDIS_URL="redis://127.0.0.1:${port}"
}

# Stops the process in PIDFILE when it is still COMM (a recycled pid is
# left alone) and removes the file.
psig_stop_pidfile() {
  local pidfile="$1" comm="$2" name="$3" pid
  [[ -f "${pidfile}" ]] || return 0
  pid="$(cat "${pidfile}" 2>/dev/null)" || pid=""
  if psig_pid_alive "${pid}" && [[ "$(cat "/proc/${pid}/comm" 2>/dev/null)" == "${comm}" ]]; then
    psig_log "stopping ${name}"
    psig_stop_pid "${pid}" "${name}" "${PSIG_WAIT_SECS}"
  fi
  rm -f "${pidfile}"
  return 0
}

# --- public ----------------------------------------------------------------

psig_svc_write_env() {
  local dir="$1" var
  {
    for var in PSIG_DATABASE_URL PSIG_PG_ADMIN_URL PSIG_NATS_URL PSIG_REDIS_URL; do
      [[ -n "${!var:-}" ]] && printf 'export %s=%q\n' "${var}" "${!var}"
    done
  } >"${dir}/env"
  return 0
}

# psig_services_start DIR [dev|test]
# Starts the servers whose URL variable is not set yet and exports
#   PSIG_DATABASE_URL, PSIG_PG_ADMIN_URL (only when PostgreSQL was started),
#   PSIG_NATS_URL, PSIG_REDIS_URL.
# A variable already set means an external server: it is kept as given.
# Must run in the calling shell (not in $(...)) so the exports stick and
# the servers are its children. On failure, psig_services_stop DIR cleans
# up whatever did start.
psig_services_start() {
  local dir="${1:?psig_services_start needs a directory}" mode="${2:-dev}"
  case "${mode}" in
    dev | test) ;;
    *)
      psig_log "psig_services_start: unknown mode '${mode}' (dev|test)"
      return 1
      ;;
  esac
  mkdir -p "${dir}" || return 1
  dir="$(cd "${dir}" && pwd)"
  if psig_svc_foreign_owner "${dir}"; then
    psig_log "servers in ${dir} belong to running process $(cat "${dir}/owner"); stop it first"
    return 1
  fi
  # Servers left by a run that died without its trap (kill -9) would hold
  # the data directory; their owner is gone, so they are ours to stop.
  psig_services_stop "${dir}"
  printf '%s\n' "$$" >"${dir}/owner"
  PSIG_SVC_PORTS=()

  if [[ -z "${PSIG_DATABASE_URL:-}" ]]; then
    psig_pg_start "${dir}" "${mode}" || return 1
  else
    psig_log "using the PostgreSQL given in PSIG_DATABASE_URL"
  fi
  if [[ -z "${PSIG_NATS_URL:-}" ]]; then
    psig_nats_start "${dir}" || return 1
  else
    psig_log "using the NATS server given in PSIG_NATS_URL"
  fi
  if [[ -z "${PSIG_REDIS_URL:-}" ]]; then
    psig_redis_start "${dir}" || return 1
  else
    psig_log "using the Redis server given in PSIG_REDIS_URL"
  fi
  psig_svc_write_env "${dir}"
}

# psig_services_stop DIR
# Stops every server recorded in DIR. Idempotent, always returns 0, and
# safe from a trap after a start that failed halfway. Leaves the servers
# alone when another live process started them.
psig_services_stop() {
  local dir="${1:?psig_services_stop needs a directory}"
  [[ -d "${dir}" ]] || return 0
  dir="$(cd "${dir}" && pwd)" || return 0
  if psig_svc_foreign_owner "${dir}"; then
    return 0
  fi
  psig_stop_pidfile "${dir}/redis.pid" redis-server Redis
  psig_stop_pidfile "${dir}/nats.pid" nats-server NATS
  psig_pg_stop "${dir}"
  rm -f "${dir}/owner" "${dir}/env"
  return 0
}

# shellcheck shell=bash
# Private Nchan (nginx + libnginx-mod-nchan) and Pushpin instances that
# scripts/bench compares our WebSocket fan-out with. Like services.sh:
# sourced, never executed; bound to 127.0.0.1 on free ports; run as our own
# processes from a private directory, never the system services; stopped
# again by the matching stop function, which is idempotent, always returns
# 0 and is safe in an EXIT trap after a start that failed halfway. The
# caller owns `set -euo pipefail` and the traps, e.g.
#
#   trap 'psig_peer_nchan_stop "$dir/nchan"; psig_peer_pushpin_stop "$dir/pushpin"' EXIT
#   trap 'exit 130' INT
#   trap 'exit 143' TERM
#
# A start first stops whatever a run that died without its trap (kill -9)
# left in the same directory. Configuration templates: bench/peers/.
#
# Files in an Nchan DIR:
#   owner          pid of the script that started it
#   nginx.conf     bench/peers/nchan.conf.in, substituted
#   nginx.pid      the master's pid (written by nginx)
#   nginx.pgid     its process group (master + workers), for the stop
#   error.log      nginx's error log (access log is off); nginx.out: stdout/err
#   env            the exported URLs, for `source DIR/env`
# Files in a Pushpin DIR:
#   owner, env     as above
#   pushpin.conf   bench/peers/pushpin/pushpin.conf.in, substituted; routes
#   runner.pid     the `pushpin` runner; runner.log its output
#   children.pids  condure / pushpin-proxy / pushpin-handler pids, copied
#                  from run/*.pid at start (the runner deletes its own)
#   run/           the runner's rundir (ZeroMQ ipc sockets, pid files)
#   log/           condure.log, pushpin-proxy.log, pushpin-handler.log

[[ -n "${PSIG_BENCH_PEERS_SH:-}" ]] && return 0
PSIG_BENCH_PEERS_SH=1

# shellcheck source-path=SCRIPTDIR source=services.sh
source "$(dirname "${BASH_SOURCE[0]}")/services.sh"

# Debian's path of the Nchan module (package libnginx-mod-nchan).
PSIG_NCHAN_MODULE="${PSIG_NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}"

# Channel the exported URLs use. Pushpin's test route subscribes every
# /ws connection to "test" unless the URL names ?channel=...
PSIG_BENCH_CHANNEL="${PSIG_BENCH_CHANNEL:-bench}"

# --- packages ----------------------------------------------------------------

# Installs what the benchmark's peers need through common.sh's
# PSIG_DEPS/psig_install_deps (only what is missing; apt log in
# .run/install.log):
#   nginx               Debian 12's nginx (1.22) provides nginx-abi-1.22.1-7,
#                       which libnginx-mod-nchan depends on. nginx-light is
#                       only a transitional package there (nginx + the echo
#                       module), so nginx itself is named.
#   libnginx-mod-nchan  Nchan 1.3.6
#   pushpin             Pushpin 1.36; pulls in condure and zurl
#   jq                  for the benchmark's JSON reports
# pgbench needs nothing extra: on Debian 12 the real binary
# (/usr/lib/postgresql/15/bin/pgbench) is in postgresql-15, which the
# `postgresql` of PSIG_DEPS already installs (postgresql-client-15 does not
# carry it, /usr/bin/pgbench is only postgresql-client-common's wrapper).
# Debian's maintainer scripts try to start the system nginx (port 80) and
# pushpin (port 7999) services; where that happens it is logged, never
# stopped here: our instances use free ports and do not collide with them.
psig_bench_deps() {
  PSIG_DEPS+=(nginx libnginx-mod-nchan pushpin jq)
  psig_install_deps || return 1
  if [[ ! -f "${PSIG_NCHAN_MODULE}" ]]; then
    psig_log "the Nchan module is missing: ${PSIG_NCHAN_MODULE}"
    return 1
  fi
  local pidfile pid
  for pidfile in /run/nginx.pid /run/pushpin/pushpin.pid; do
    pid="$(cat "${pidfile}" 2>/dev/null)" || continue
    if psig_pid_alive "${pid}"; then
      psig_log "note: a system service runs (${pidfile}, pid ${pid}); the benchmark does not use it"
    fi
  done
  return 0
}

# --- helpers -----------------------------------------------------------------

# Prints the RLIMIT_NOFILE to ask for: 65536, or the hard limit when lower
# (raising it needs CAP_SYS_RESOURCE, which containers often lack).
psig_peer_nofile() {
  local hard
  hard="$(ulimit -Hn)"
  if [[ "${hard}" == unlimited ]] || ((hard > 65536)); then
    printf '65536\n'
  else
    printf '%s\n' "${hard}"
  fi
}

# Makes DIR and prints its absolute path.
psig_peer_dir() {
  mkdir -p "$1" && (cd "$1" && pwd)
}

# Prints the process group of PID (field 5 of /proc/PID/stat).
psig_peer_pgid() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  local -a fields
  # state ppid pgrp ...
  read -r -a fields <<<"${stat}"
  printf '%s\n' "${fields[2]}"
}

# The pid to watch during start-up: $! is the server itself only without
# job control. With `set -m` a background job leads its own process group,
# so setsid forks and $! exits at once; then only the pid files tell.
psig_peer_watch_pid() {
  [[ "$-" == *m* ]] || printf '%s\n' "$1"
  return 0
}

# Prints the parent pid of PID (field 4 of /proc/PID/stat).
psig_peer_ppid() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  local -a fields
  read -r -a fields <<<"${stat}"
  printf '%s\n' "${fields[1]}"
}

# Sends SIGNAL to every live process of process group PGID whose comm is
# one of the names given: a recycled group id is left alone.
psig_peer_signal_group() {
  local pgid="$1" signal="$2" f pid comm name
  shift 2
  [[ "${pgid}" =~ ^[0-9]+$ ]] || return 0
  for f in /proc/[0-9]*/stat; do
    pid="${f#/proc/}"
    pid="${pid%/stat}"
    [[ "$(psig_peer_pgid "${pid}" 2>/dev/null)" == "${pgid}" ]] || continue
    comm="$(cat "/proc/${pid}/comm" 2>/dev/null)" || continue
    for name in "$@"; do
      if [[ "${comm}" == "${name}" ]]; then
        kill "-${signal}" "${pid}" 2>/dev/null || true
        break
      fi
    done
  done
  return 0
}

# True while a process of group PGID named one of NAMES lives (zombies
# count as gone).
psig_peer_group_alive() {
  local pgid="$1" f pid comm name
  shift
  [[ "${pgid}" =~ ^[0-9]+$ ]] || return 1
  for f in /proc/[0-9]*/stat; do
    pid="${f#/proc/}"
    pid="${pid%/stat}"
    [[ "$(psig_peer_pgid "${pid}" 2>/dev/null)" == "${pgid}" ]] || continue
    psig_pid_alive "${pid}" || continue
    comm="$(cat "/proc/${pid}/comm" 2>/dev/null)" || continue
    for name in "$@"; do
      [[ "${comm}" == "${name}" ]] && return 0
    done
  done
  return 1
}

psig_peer_write_env() {
  local file="$1" var
  shift
  {
    for var in "$@"; do
      [[ -n "${!var:-}" ]] && printf 'export %s=%q\n' "${var}" "${!var}"
    done
  } >"${file}"
  return 0
}

# --- Nchan -------------------------------------------------------------------

psig_nchan_ping() {
  [[ "$(curl -fsS --max-time 2 "http://127.0.0.1:$1/ping" 2>/dev/null)" == ok ]]
}

# psig_peer_nchan_start DIR
# Starts a private nginx with bench/peers/nchan.conf.in on a free loopback
# port and exports
#   PSIG_NCHAN_PUB_URL  http://127.0.0.1:PORT/pub/bench  (POST the raw body)
#   PSIG_NCHAN_SUB_URL  ws://127.0.0.1:PORT/sub/bench
# PSIG_NCHAN_WORKERS sets worker_processes (default 1; "auto" for all cores).
# Must run in the calling shell (not in $(...)) so the exports stick and
# nginx is its child.
psig_peer_nchan_start() {
  local dir="${1:?psig_peer_nchan_start needs a directory}"
  local root template port pid pgid workers nofile
  root="$(psig_root)"
  template="${root}/bench/peers/nchan.conf.in"
  command -v nginx >/dev/null 2>&1 || {
    psig_log "nginx is not installed (psig_bench_deps installs it)"
    return 1
  }
  [[ -f "${PSIG_NCHAN_MODULE}" ]] || {
    psig_log "the Nchan module ${PSIG_NCHAN_MODULE} is missing (package libnginx-mod-nchan)"
    return 1
  }
  dir="$(psig_peer_dir "${dir}")" || return 1
  if psig_svc_foreign_owner "${dir}"; then
    psig_log "Nchan in ${dir} belongs to running process $(cat "${dir}/owner"); stop it first"
    return 1
  fi
  psig_peer_nchan_stop "${dir}"
  printf '%s\n' "$$" >"${dir}/owner"
  mkdir -p "${dir}/tmp" || return 1

  psig_svc_port || return 1
  port="${PSIG_SVC_PORT}"
  workers="${PSIG_NCHAN_WORKERS:-1}"
  [[ "${workers}" =~ ^([0-9]+|auto)$ ]] || {
    psig_log "PSIG_NCHAN_WORKERS must be a number or auto, not '${workers}'"
    return 1
  }
  nofile="$(psig_peer_nofile)"
  # '|' is the sed delimiter: a directory containing one is refused.
  [[ "${dir}" != *'|'* ]] || {
    psig_log "directory name must not contain '|': ${dir}"
    return 1
  }
  sed -e "s|@DIR@|${dir}|g" -e "s|@PORT@|${port}|g" -e "s|@WORKERS@|${workers}|g" \
    -e "s|@NOFILE@|${nofile}|g" -e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" \
    "${template}" >"${dir}/nginx.conf" || return 1

  psig_log "starting Nchan (nginx, ${workers} worker(s)) on 127.0.0.1:${port}"
  # Foreground master (daemon off) as our child; its own session, so that
  # the master and its workers form one process group for the stop, and a
  # terminal's Ctrl-C reaches the script's traps rather than nginx alone.
  : >"${dir}/error.log"
  setsid nginx -p "${dir}/" -c "${dir}/nginx.conf" -e "${dir}/error.log" -g 'daemon off;' \
    </dev/null >"${dir}/nginx.out" 2>&1 &
  pid=$!
  # Until nginx writes its own pid file, the stop goes by this one.
  printf '%s\n' "${pid}" >"${dir}/nginx.pid"
  printf '%s\n' "${pid}" >"${dir}/nginx.pgid"
  psig_svc_wait Nchan "${dir}/error.log" "$(psig_peer_watch_pid "${pid}")" \
    psig_nchan_ping "${port}" || return 1
  # setsid forks when it is a process-group leader (job control on): then
  # $! is not nginx. The master's own pid file is authoritative.
  pid="$(cat "${dir}/nginx.pid" 2>/dev/null)" || pid=""
  pgid="$(psig_peer_pgid "${pid}")" || pgid=""
  [[ -n "${pgid}" ]] && printf '%s\n' "${pgid}" >"${dir}/nginx.pgid"

  export PSIG_NCHAN_PUB_URL="http://127.0.0.1:${port}/pub/${PSIG_BENCH_CHANNEL}"
  export PSIG_NCHAN_SUB_URL="ws://127.0.0.1:${port}/sub/${PSIG_BENCH_CHANNEL}"
  psig_peer_write_env "${dir}/env" PSIG_NCHAN_PUB_URL PSIG_NCHAN_SUB_URL
}

# psig_peer_nchan_stop DIR
# Fast shutdown (SIGTERM) of the master, SIGKILL after PSIG_WAIT_SECS,
# then SIGKILL for any worker of its process group still alive. Idempotent,
# always returns 0; leaves a live foreign owner's nginx alone.
psig_peer_nchan_stop() {
  local dir="${1:?psig_peer_nchan_stop needs a directory}" pid pgid
  [[ -d "${dir}" ]] || return 0
  dir="$(cd "${dir}" && pwd)" || return 0
  psig_svc_foreign_owner "${dir}" && return 0
  pgid="$(cat "${dir}/nginx.pgid" 2>/dev/null)" || pgid=""
  pid="$(cat "${dir}/nginx.pid" 2>/dev/null)" || pid=""
  if psig_pid_alive "${pid}" && [[ "$(cat "/proc/${pid}/comm" 2>/dev/null)" == nginx ]]; then
    psig_log "stopping Nchan"
    psig_stop_pid "${pid}" Nchan "${PSIG_WAIT_SECS}"
  fi
  # Workers left by a master that was killed (they do not die with it).
  if psig_peer_group_alive "${pgid}" nginx; then
    psig_log "killing Nchan's leftover nginx processes (group ${pgid})"
    psig_peer_signal_group "${pgid}" KILL nginx
    local end=$((SECONDS + 5))
    while psig_peer_group_alive "${pgid}" nginx && ((SECONDS < end)); do
      sleep 0.1
    done
  fi
  rm -f "${dir}/nginx.pid" "${dir}/nginx.pgid" "${dir}/owner" "${dir}/env"
  unset PSIG_NCHAN_PUB_URL PSIG_NCHAN_SUB_URL
  return 0
}

# --- Pushpin -----------------------------------------------------------------

# Names of Pushpin's processes (/proc/PID/comm, at most 15 characters).
PSIG_PUSHPIN_COMMS=(pushpin condure pushpin-proxy pushpin-handler zurl)

psig_peer_pushpin_comm_ok() {
  local comm name
  comm="$(cat "/proc/$1/comm" 2>/dev/null)" || return 1
  for name in "${PSIG_PUSHPIN_COMMS[@]}"; do
    [[ "${comm}" == "${name}" ]] && return 0
  done
  return 1
}

# Ready when condure answers through the proxy (the test route's GET /),
# a WebSocket handshake to /ws gets 101 (proxy <-> handler), and the
# handler's HTTP publish endpoint accepts an empty publish.
psig_pushpin_ready() {
  local port="$1" pub_port="$2" out
  out="$(curl -fsS --max-time 2 "http://127.0.0.1:${port}/" 2>/dev/null)" || return 1
  [[ "${out}" == *"Pushpin test handler"* ]] || return 1
  # curl cannot speak WebSocket: it prints the 101 and times out (28).
  out="$(curl -sS -i --max-time 0.5 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
    -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    "http://127.0.0.1:${port}/ws" 2>/dev/null)" || true
  [[ "${out}" == "HTTP/1.1 101"* ]] || return 1
  out="$(curl -fsS --max-time 2 -X POST -H 'Content-Type: application/json' \
    --data '{"items":[]}' "http://127.0.0.1:${pub_port}/publish/" 2>/dev/null)" || return 1
  [[ "${out}" == Published* ]]
}

# psig_peer_pushpin_start DIR
# Starts a private Pushpin (runner + condure + pushpin-proxy +
# pushpin-handler) with bench/peers/pushpin/ on two free loopback ports and
# exports
#   PSIG_PUSHPIN_PUB_URL   http://127.0.0.1:PUB_PORT/publish/  (POST JSON items)
#   PSIG_PUSHPIN_SUB_URL   ws://127.0.0.1:PORT/ws
#   PSIG_PUSHPIN_CHANNEL   test  (the channel the test route subscribes to)
# Must run in the calling shell so the exports stick.
psig_peer_pushpin_start() {
  local dir="${1:?psig_peer_pushpin_start needs a directory}"
  local root src port pub_port pid f cpid
  root="$(psig_root)"
  src="${root}/bench/peers/pushpin"
  local bin
  for bin in pushpin condure pushpin-proxy pushpin-handler; do
    command -v "${bin}" >/dev/null 2>&1 || {
      psig_log "${bin} is not installed (psig_bench_deps installs pushpin)"
      return 1
    }
  done
  dir="$(psig_peer_dir "${dir}")" || return 1
  if psig_svc_foreign_owner "${dir}"; then
    psig_log "Pushpin in ${dir} belongs to running process $(cat "${dir}/owner"); stop it first"
    return 1
  fi
  psig_peer_pushpin_stop "${dir}"
  printf '%s\n' "$$" >"${dir}/owner"
  [[ "${dir}" != *'|'* ]] || {
    psig_log "directory name must not contain '|': ${dir}"
    return 1
  }
  # Stale ipc sockets and pid files of an earlier run.
  rm -rf "${dir}/run"
  mkdir -p "${dir}/run" "${dir}/log" || return 1

  psig_svc_port || return 1
  port="${PSIG_SVC_PORT}"
  psig_svc_port || return 1
  pub_port="${PSIG_SVC_PORT}"
  sed -e "s|@DIR@|${dir}|g" -e "s|@PORT@|${port}|g" -e "s|@PUB_PORT@|${pub_port}|g" \
    "${src}/pushpin.conf.in" >"${dir}/pushpin.conf" || return 1
  cp "${src}/routes" "${dir}/routes" || return 1

  psig_log "starting Pushpin on 127.0.0.1:${port} (publish: 127.0.0.1:${pub_port})"
  # From DIR: the runner resolves a few relative defaults against the
  # current directory. Its own session keeps a terminal's Ctrl-C from
  # reaching it before the script's trap runs the orderly stop.
  (cd "${dir}" && exec setsid pushpin --config "${dir}/pushpin.conf") \
    </dev/null >"${dir}/runner.log" 2>&1 &
  pid=$!
  printf '%s\n' "${pid}" >"${dir}/runner.pid"
  pid="$(psig_peer_watch_pid "${pid}")"
  local end=$((SECONDS + PSIG_WAIT_SECS))
  # The children's pid files appear within a second; copy them at once so
  # that a stop after an interrupted start still finds the children.
  until [[ -s "${dir}/run/condure.pid" && -s "${dir}/run/pushpin-proxy.pid" &&
    -s "${dir}/run/pushpin-handler.pid" ]]; do
    if [[ -n "${pid}" ]] && ! psig_pid_alive "${pid}"; then
      psig_log "Pushpin exited during start-up"
      psig_svc_show_log Pushpin "${dir}/runner.log"
      return 1
    fi
    if ((SECONDS >= end)); then
      psig_log "Pushpin did not start its services within ${PSIG_WAIT_SECS}s"
      psig_svc_show_log Pushpin "${dir}/runner.log"
      return 1
    fi
    sleep 0.1
  done
  : >"${dir}/children.pids"
  for f in condure pushpin-proxy pushpin-handler; do
    cpid="$(cat "${dir}/run/${f}.pid" 2>/dev/null)" || continue
    printf '%s\n' "${cpid}" >>"${dir}/children.pids"
  done
  # The runner writes no pid file of its own: it is condure's parent
  # (the same as $! unless job control made setsid fork).
  cpid="$(head -n 1 "${dir}/children.pids")"
  if f="$(psig_peer_ppid "${cpid}")" && [[ "$(cat "/proc/${f}/comm" 2>/dev/null)" == pushpin ]]; then
    printf '%s\n' "${f}" >"${dir}/runner.pid"
    pid="${f}"
  fi
  psig_svc_wait Pushpin "${dir}/runner.log" "${pid}" \
    psig_pushpin_ready "${port}" "${pub_port}" || {
    for f in condure pushpin-proxy pushpin-handler; do
      psig_svc_show_log "${f}" "${dir}/log/${f}.log"
    done
    return 1
  }

  export PSIG_PUSHPIN_PUB_URL="http://127.0.0.1:${pub_port}/publish/"
  export PSIG_PUSHPIN_SUB_URL="ws://127.0.0.1:${port}/ws"
  export PSIG_PUSHPIN_CHANNEL=test
  psig_peer_write_env "${dir}/env" PSIG_PUSHPIN_PUB_URL PSIG_PUSHPIN_SUB_URL PSIG_PUSHPIN_CHANNEL
}

# psig_peer_pushpin_stop DIR
# SIGTERM to the runner, which stops its services in order; then SIGTERM
# and, after PSIG_WAIT_SECS, SIGKILL to any child that outlived it (a
# runner killed with -9 leaves them: each runs in a process group of its
# own, so no group signal reaches them). Children are found through
# children.pids and the runner's run/*.pid files, and only signalled while
# their comm is still one of Pushpin's. Idempotent, always returns 0.
psig_peer_pushpin_stop() {
  local dir="${1:?psig_peer_pushpin_stop needs a directory}" pid f
  [[ -d "${dir}" ]] || return 0
  dir="$(cd "${dir}" && pwd)" || return 0
  psig_svc_foreign_owner "${dir}" && return 0
  local -a children=()
  if [[ -f "${dir}/children.pids" ]]; then
    mapfile -t children <"${dir}/children.pids"
  fi
  for f in "${dir}"/run/*.pid; do
    [[ -f "${f}" ]] || continue
    pid="$(cat "${f}" 2>/dev/null)" || continue
    children+=("${pid}")
  done
  pid="$(cat "${dir}/runner.pid" 2>/dev/null)" || pid=""
  local stopping=""
  if psig_pid_alive "${pid}" && psig_peer_pushpin_comm_ok "${pid}"; then
    psig_log "stopping Pushpin"
    stopping=1
    psig_stop_pid "${pid}" Pushpin "${PSIG_WAIT_SECS}"
  fi
  local -a alive=()
  local -A seen=()
  for pid in "${children[@]}"; do
    [[ -n "${pid}" && -z "${seen[${pid}]:-}" ]] || continue
    seen["${pid}"]=1
    psig_pid_alive "${pid}" && psig_peer_pushpin_comm_ok "${pid}" && alive+=("${pid}")
  done
  if ((${#alive[@]} > 0)); then
    [[ -n "${stopping}" ]] || psig_log "stopping Pushpin's leftover processes ${alive[*]}"
    for pid in "${alive[@]}"; do
      kill -TERM "${pid}" 2>/dev/null || true
    done
    local end=$((SECONDS + PSIG_WAIT_SECS)) left
    while :; do
      left=()
      for pid in "${alive[@]}"; do
        psig_pid_alive "${pid}" && left+=("${pid}")
      done
      ((${#left[@]} == 0)) && break
      if ((SECONDS >= end)); then
        psig_log "Pushpin processes ${left[*]} did not stop within ${PSIG_WAIT_SECS}s; killing them"
        for pid in "${left[@]}"; do
          kill -KILL "${pid}" 2>/dev/null || true
        done
        break
      fi
      sleep 0.1
    done
  fi
  rm -f "${dir}/runner.pid" "${dir}/children.pids" "${dir}/owner" "${dir}/env"
  unset PSIG_PUSHPIN_PUB_URL PSIG_PUSHPIN_SUB_URL PSIG_PUSHPIN_CHANNEL
  return 0
}

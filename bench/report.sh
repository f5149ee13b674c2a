#!/usr/bin/env bash
# Turns scripts/bench's results (one JSON object per measurement: name, run, the RESULT fields)
# into docs/benchmarks.md: the machine, then per figure its median and range over the runs, the
# baseline measured in the same runs, the ratio (the median of the per-run ratios) and the target.
#   bench/report.sh RESULTS.jsonl SECONDS [quick]
set -euo pipefail

results="$1"
seconds="$2"
quick="${3:-}"

version() { "$@" 2>&1 | head -n 1 || echo "not found"; }

cat <<EOF
# Benchmarks

Produced by \`scripts/bench\` (do not edit by hand): $(jq -s 'map(.run) | max' "${results}") runs of every
measurement on one machine, generator included, private servers on loopback; $((seconds / 60)) min $((seconds % 60)) s
in all${quick:+ (--quick: small sizes, not the published figures)}. Medians, with the range over the runs; a ratio is
the median of the per-run ratios against a baseline measured in the same run, because these
machines are shared and noisy. How each figure is made is below the table.

## Machine

- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores available
- Memory: $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); kernel $(uname -r)
- $(version postgres --version 2>/dev/null || version /usr/lib/postgresql/15/bin/postgres --version) (fsync on), $(version nats-server --version), $(version redis-server --version | awk '{print $1, $2, $3}')
- $(version nginx -v) with $(dpkg-query -W -f='libnginx-mod-nchan ${Version}' libnginx-mod-nchan 2>/dev/null || echo "no nchan"), $(dpkg-query -W -f='pushpin ${Version}' pushpin 2>/dev/null || echo "no pushpin")
- Date: $(date -u +%Y-%m-%d), commit $(git -C "$(dirname "$0")/.." rev-parse --short HEAD 2>/dev/null || echo unknown)

## Results

| figure | median | range | baseline (median) | ratio | target | met |
|---|---|---|---|---|---|---|
EOF

jq -rs '
  def median: sort | if length == 0 then null else .[((length - 1) / 2) | floor] end;
  def vals(n; f): [.[] | select(.name == n) | .[f] | select(. != null)];
  def runs: [.[] | .run] | unique;
  def fmt: if . == null then "—" elif . >= 100 then (. | round | tostring)
           elif . >= 10 then ((. * 10 | round) / 10 | tostring) else ((. * 100 | round) / 100 | tostring) end;
  def at(n; f; r): [.[] | select(.name == n and .run == r) | .[f]] | .[0];
  def ratio(n; f; bn; bf): . as $all | [runs[] as $r | ($all | at(n; f; $r)) as $a | ($all | at(bn; bf; $r)) as $b
                                        | select($a != null and $b != null and $b != 0) | $a / $b] | median;
  . as $all |
  def row(title; n; f; bn; bf; target; cmp; unit):
    ($all | vals(n; f)) as $v |
    (if bn == null then null else ($all | vals(bn; bf) | median) end) as $base |
    (if bn == null then null else ($all | ratio(n; f; bn; bf)) end) as $ratio |
    (if cmp == "ratio>=" then $ratio elif cmp == null then null else ($v | median) end) as $checked |
    "| \(title) | \($v | median | fmt) \(unit) | \($v | min | fmt)–\($v | max | fmt) | "
    + (if bn == null then "—" else "\($base | fmt) (\(bn))" end) + " | "
    + (if $ratio == null then "—" else "\($ratio | fmt)×" end) + " | "
    + (if target == null then "—" else target end) + " | "
    + (if cmp == null or $checked == null then "—"
       elif (cmp == "<=" and $checked <= (target | ltrimstr("≤ ") | split(" ") | .[0] | gsub(",";"") | tonumber)) then "yes"
       elif (cmp == ">=" and $checked >= (target | ltrimstr("≥ ") | split(" ") | .[0] | gsub(",";"") | tonumber)) then "yes"
       elif (cmp == "ratio>=" and $checked >= (target | ltrimstr("≥ ") | rtrimstr("×") | split(" ") | .[0] | tonumber)) then "yes"
       else "**no**" end) + " |";
  row("HTTP ceiling: psig-bench → sink"; "http-ceiling"; "per_s"; null; null; null; null; "req/s"),
  row("PostgreSQL ceiling: pgbench, 100 events + deliveries + outbox per transaction"; "pg-ceiling"; "events_per_s"; null; null; null; null; "events/s"),
  row("ingest: POST …/events, 64 connections, one matching webhook"; "ingest"; "events_per_s"; "pg-ceiling"; "events_per_s"; "≥ 0.6×"; "ratio>="; "events/s"),
  row("ingest without any consumer (events only, no deliveries)"; "ingest-alone"; "events_per_s"; "pg-ceiling"; "events_per_s"; null; null; "events/s"),
  row("ingest vs the HTTP ceiling"; "ingest"; "events_per_s"; "http-ceiling"; "per_s"; null; null; "events/s"),
  row("ingest latency p50 (202 after COMMIT)"; "ingest"; "p50_ms"; null; null; null; null; "ms"),
  row("ingest latency p99"; "ingest"; "p99_ms"; null; null; null; null; "ms"),
  row("e2e webhook latency p50 at \(([$all[] | select(.name == "e2e") | .rate] | .[0] // 0) | tostring)/s (POST → receiver)"; "e2e"; "p50_ms"; null; null; "≤ 5 ms"; "<="; "ms"),
  row("e2e webhook latency p99"; "e2e"; "p99_ms"; null; null; "≤ 25 ms"; "<="; "ms"),
  row("e2e events missing"; "e2e"; "missing"; null; null; null; null; ""),
  row("delivery drain, webhooks received"; "deliver"; "deliveries_per_s"; null; null; null; null; "deliveries/s"),
  row("delivery drain, every attempt row committed"; "deliver"; "logged_per_s"; null; null; "≥ 10,000 /s"; ">="; "deliveries/s"),
  row("WebSocket fan-out, ProjectSignal, \(([$all[] | select(.name == "ws-psig") | .clients] | .[0] // 0) | tostring) clients"; "ws-psig"; "pushes_per_s"; "ws-nchan"; "pushes_per_s"; "≥ 2×"; "ratio>="; "pushes/s"),
  row("WebSocket fan-out, Nchan"; "ws-nchan"; "pushes_per_s"; null; null; null; null; "pushes/s"),
  row("WebSocket fan-out, Pushpin"; "ws-pushpin"; "pushes_per_s"; null; null; null; null; "pushes/s"),
  row("ProjectSignal vs Pushpin"; "ws-psig"; "pushes_per_s"; "ws-pushpin"; "pushes_per_s"; null; null; "pushes/s"),
  row("WebSocket p50 publish → push, ProjectSignal at full rate"; "ws-psig"; "p50_ms"; null; null; null; null; "ms"),
  row("WebSocket p50, Nchan at full rate"; "ws-nchan"; "p50_ms"; null; null; null; null; "ms"),
  row("WebSocket p99 publish → push at half ProjectSignal'"'"'s rate"; "ws-psig-half"; "p99_ms"; null; null; "≤ 50 ms"; "<="; "ms"),
  row("WebSocket pushes lost, ProjectSignal"; "ws-psig"; "lost"; null; null; null; null; ""),
  row("idle WebSocket connections: daemon memory each"; "ws-idle"; "bytes_per_connection"; null; null; "≤ 8192 B"; "<="; "B"),
  row("idle daemon RSS"; "idle-rss"; "rss_mib"; null; null; "≤ 40 MB"; "<="; "MiB")
' "${results}"

failed="$(jq -rs '[.[] | select(.ok == false) | "\(.name) (run \(.run))"] | join(", ")' "${results}")"
cat <<EOF

${failed:+Checks that failed (a lost message, an error status, a client that could not connect): ${failed}.
}
## How the figures are made

\`build/release/bench/psig-bench\` (sources in \`bench/\`, one Beast client with many connections on
one thread, latency histograms with ~3 % resolution) drives the daemon over loopback. Each mode
sets up its own project through the REST API, with the rate limit and the connection cap out of
the way.

- **HTTP ceiling**: \`psig-bench http\` against \`psig-bench sink\` (answers 202, nothing else), with the
  ingest's connections and body size: what the generator and loopback allow.
- **PostgreSQL ceiling**: \`pgbench -c 4 -j 2\` with \`bench/pg_ingest.sql\` on the same private
  PostgreSQL (fsync on), in a database of its own: 100 events, deliveries and outbox rows per
  transaction, counted as 100 × tps.
- **ingest**: 64 keep-alive connections POST ~500-byte events as fast as the 202s come back; a 202
  means the event, its delivery and its outbox row are committed (group commit). Before the next
  mode starts, the deliveries still queued are received (so e2e does not wait behind them).
- **e2e**: events POSTed at a fixed rate; \`psig-bench\` is also the webhook receiver and takes the
  send time out of each payload: POST → webhook received, including the relay through JetStream
  and the attempt.
- **deliver**: a backlog of scheduled events all due at once, then the drain to the receiver; the
  second figure waits until the attempt writer has committed every attempt row.
- **ws**: K clients subscribe to one pattern; events POSTed at a rate (the same client and message
  size for the peers: Nchan's publisher location, Pushpin's HTTP publish endpoint, configs in
  \`bench/peers/\`), at most 1,000 events outstanding (published, not yet received by the
  slowest client: a server that accepts publishes faster than it pushes them would otherwise queue the
  difference until its slow-consumer limit closes the clients, ProjectSignal's at 1 MiB per
  client); pushes/s over the window from the first publish to the last receipt, and send →
  receipt latency. Then ProjectSignal again at half the rate it reached, for the latency
  target.
- **ws-idle**: K authenticated, subscribed, idle connections; the daemon's RSS growth divided by K.

$(cat "$(dirname "$0")/limits.md")

Reproduce: \`scripts/bench\` (RUNS=3 by default; \`RUNS=1 scripts/bench --quick\` checks the tool in a
minute or two without rewriting this file).
EOF

#!/usr/bin/env bash
# make demo: a real small search campaign end to end on this machine.
#
# Starts convrnn-server on loopback with its database under runs/demo/, two
# CPU workers, launches examples/demo_campaign.json (real Fashion-MNIST,
# mixed cell types and feedback, TPE with ASHA), follows it with
# `convrnn watch`, then prints the best architectures, the Pareto front and
# the best trial's wiring. The web dashboard follows it live at
# http://127.0.0.1:50552/ and the server stays up afterwards for a look
# (its pid is printed; stop it with kill). The database stays in runs/demo/.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
port=${CONVRNN_DEMO_PORT:-50551}
address=127.0.0.1:$port
http=127.0.0.1:$((port + 1))
dir=runs/demo
server="$build/server/convrnn-server"
worker="$build/worker/convrnn-worker"
client="$build/client/convrnn"
mkdir -p "$dir"

pids=()
server_pid=
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

echo "== convrnn-server on $address, database $dir/campaigns.db, dashboard on http://$http/"
"$server" --db "$dir/campaigns.db" --listen "$address" --http "$http" 2>"$dir/server.log" &
server_pid=$!
pids+=("$server_pid")
for _ in $(seq 1 100); do
  "$client" --server "$address" campaigns >/dev/null 2>&1 && break
  sleep 0.2
done

echo "== two CPU workers (one thread each; logs in $dir/worker-*.log)"
for i in 1 2; do
  "$worker" --server "$address" --devices cpu --threads 1 \
    --checkpoint-root "$dir/checkpoints" 2>"$dir/worker-$i.log" &
  pids+=($!)
done

echo "== launching examples/demo_campaign.json"
id=$("$client" --server "$address" --json launch examples/demo_campaign.json |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "campaign $id: follow it live at http://$http/#/campaign/$id"

"$client" --server "$address" watch "$id"

echo
echo "== best architectures"
"$client" --server "$address" best "$id" --top 5
echo
echo "== Pareto front: validation top-1 against parameters"
"$client" --server "$address" pareto "$id"
best=$("$client" --server "$address" --json best "$id" --top 1 |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["trials"][0]["id"])')
echo
echo "== the best trial ($best)"
"$client" --server "$address" show "$best"
"$client" --server "$address" show "$best" --format dot > "$dir/best.dot"
echo
echo "Graphviz diagram of the best trial: $dir/best.dot"
echo "Which parameters mattered:"
"$client" --server "$address" importance "$id" || true
# The workers stop; the server stays up for the dashboard.
pids=("${pids[@]/$server_pid}")
echo
echo "Dashboard: http://$http/#/campaign/$id  (convrnn-server pid $server_pid; stop it with: kill $server_pid)"
echo "Query this campaign: $client --server $address best $id"

#!/bin/bash
# The system calls one local agent makes per job, counted with strace: a measure of the per-job
# path that load from other processes does not change (CPU-ms and jobs/s do). Runs W1's no-op
# jobs through processAll on one local agent (bench/profile-dispatch.ts, 2 slots) under
# `strace -f -ff`, then adds up the agent's threads (its main thread and the libuv pool).
#   bench/agent-syscalls.sh [batch|oneByOne] [jobs]     (needs strace and a built workspace)
set -euo pipefail
way=${1:-batch}
jobs=${2:-1000}
out=$(mktemp -d /tmp/malocher-syscalls-XXXXXX)
trap 'rm -rf "$out"' EXIT
request="{\"dir\":\"$out/dir\",\"jobs\":$jobs,\"options\":{\"slots\":2},\"nodeDaemons\":[],\"way\":\"$way\"}"
strace -f -ff -qq -s 256 -o "$out/trace" node --import tsx "$(dirname "$0")/profile-dispatch.ts" "$request" >/dev/null
main=$(grep -l 'execve(.*agent/dist/bundle/main.js' "$out"/trace.* | head -1)
threads=$(grep -E '^clone3?\(.*CLONE_THREAD' "$main" | sed -E 's/.*= ([0-9]+)$/\1/')
files=("$main")
for tid in $threads; do [ -f "$out/trace.$tid" ] && files+=("$out/trace.$tid"); done
calls=$(cat "${files[@]}" | grep -cE '^[a-z0-9_]+\(')
claims=$(cat "${files[@]}" | grep -cE '^rename\("[^"]*/queued/')
putBack=$(cat "${files[@]}" | grep -cE '^rename\("[^"]*/running/' || true)
echo "one local agent, $jobs $way jobs: $calls system calls ($(( calls / jobs )) per job) in ${#files[@]} threads; $claims claims, $putBack of them put back"
cat "${files[@]}" | sed -nE 's/^([a-z0-9_]+)\(.*/\1/p' | sort | uniq -c | sort -rn | head -20

#!/usr/bin/env bash
# Two ranks on two "hosts": two network namespaces joined by a veth pair, each
# with its own address and its own loopback. Rank 0 serves the store on
# 10.x.y.1; rank 1, in the other namespace, reaches it over the veth link, and
# Gloo must listen on the veth address (not on 127.0.0.1, which is another
# namespace's loopback from over there) for the all-reduce to work. With
# python3-torch installed, a third run pairs a Node.js rank 0 with a Python
# rank 1 across the namespaces.
#
#   sudo scripts/netns-demo.sh          (needs root and iproute2; CI runs it)
#
# Exit status 0 when every run gave the expected sums; the namespaces and the
# veth pair are removed on exit.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "netns-demo: needs root (ip netns)" >&2; exit 2; }
command -v ip >/dev/null || { echo "netns-demo: needs iproute2 (ip)" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PAIRLOSS_PYTHON:-/usr/bin/python3}
id=$$
ns0=pl-demo0-$id
ns1=pl-demo1-$id
veth0=plv0-$id
veth1=plv1-$id
net=10.231.$((RANDOM % 250 + 1))
addr0=$net.1
addr1=$net.2
port=$((20000 + RANDOM % 20000))
# each rendezvous's limit: a loaded machine takes seconds to load LibTorch and import torch
timeout_s=${PAIRLOSS_NETNS_TIMEOUT_S:-60}
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || { echo "netns-demo: PAIRLOSS_NETNS_TIMEOUT_S must be a number of seconds, got '$timeout_s'" >&2; exit 2; }

cleanup() {
  ip netns del "$ns0" 2>/dev/null || true
  ip netns del "$ns1" 2>/dev/null || true
}
trap cleanup EXIT

say() { printf '[netns-demo] %s\n' "$*"; }

ip netns add "$ns0"
ip netns add "$ns1"
ip link add "$veth0" type veth peer name "$veth1"
ip link set "$veth0" netns "$ns0"
ip link set "$veth1" netns "$ns1"
ip -n "$ns0" addr add "$addr0/24" dev "$veth0"
ip -n "$ns1" addr add "$addr1/24" dev "$veth1"
for ns in "$ns0" "$ns1"; do ip -n "$ns" link set lo up; done
ip -n "$ns0" link set "$veth0" up
ip -n "$ns1" link set "$veth1" up
say "namespaces $ns0 ($addr0 on $veth0) and $ns1 ($addr1 on $veth1), store on $addr0:$port"

# The library from dist/ when built, else straight from lib/*.ts.
if [ -f "$repo/dist/lib/index.js" ]; then
  node_args=()
  lib=$repo/dist/lib
else
  node_args=(-r "$repo/test/helpers/register-ts.js")
  lib=$repo/lib
fi

node_rank() { # node_rank NS RANK PORT: all-reduce [rank + 1, 10] and print the sum
  ip netns exec "$1" node "${node_args[@]}" -e "
    const pl = require('$lib');
    (async () => {
      const pg = await pl.ProcessGroup.init({ rank: $2, worldSize: 2, host: '$addr0', port: $3, timeoutMs: $timeout_s * 1000 });
      const sum = await pg.allReduce(pl.Tensor.from(Float32Array.from([$2 + 1, 10]), [2]), 'sum');
      console.log('rank $2 in $1: sum = ' + Array.from(sum.data()).join(','));
      await pg.destroy();
    })().catch((e) => { console.error('rank $2 in $1: ' + e.message); process.exit(1); });"
}

python_rank() { # python_rank NS RANK PORT IFNAME
  ip netns exec "$1" env GLOO_SOCKET_IFNAME="$4" "$python" -c "
import datetime, torch, torch.distributed as dist
dist.init_process_group('gloo', init_method='tcp://$addr0:$3', rank=$2, world_size=2, timeout=datetime.timedelta(seconds=$timeout_s))
t = torch.tensor([$2 + 1.0, 10.0])
dist.all_reduce(t)
print('rank $2 in $1 (python): sum = ' + ','.join(str(int(v)) for v in t.tolist()))
dist.destroy_process_group()"
}

check() { # check NAME FILE...: every file says "sum = 3,20"
  local name=$1; shift
  for f in "$@"; do
    if ! grep -q 'sum = 3,20' "$f"; then
      say "FAIL $name"; cat "$@" >&2; exit 1
    fi
  done
  cat "$@"
  say "ok   $name"
}

out=$(mktemp -d)
node_rank "$ns0" 0 "$port" >"$out/0" 2>&1 &
node_rank "$ns1" 1 "$port" >"$out/1" 2>&1 &
wait
check "Node.js rank 0 <-> Node.js rank 1 across the veth link" "$out/0" "$out/1"

if "$python" -c 'import torch.distributed' 2>/dev/null; then
  port=$((port + 1))
  node_rank "$ns0" 0 "$port" >"$out/0" 2>&1 &
  python_rank "$ns1" 1 "$port" "$veth1" >"$out/1" 2>&1 &
  wait
  check "Node.js rank 0 <-> Python rank 1 across the veth link" "$out/0" "$out/1"
else
  say "skip Python rank: $python has no torch"
fi
rm -rf "$out"

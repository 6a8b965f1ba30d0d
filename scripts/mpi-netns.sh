#!/usr/bin/env bash
# Runs the 2-rank --sync-bn equivalence check across two "hosts" on this one machine: two network
# namespaces joined by a veth pair, one rank in each, Open MPI forced onto TCP over the veth
# (--mca pml ob1 --mca btl tcp,self; btl_tcp_if_include/oob_tcp_if_include = the veth subnet), so
# neither shared memory nor the machine's own network interface can carry the traffic.
#
# Each namespace gets its own hostname (unshare --uts) and an /etc/hosts naming both (ip netns exec
# bind-mounts /etc/netns/NAME/hosts); the launch agent (plm_rsh_agent) starts the remote daemon with
# `ip netns exec` instead of ssh.
#
# usage: sudo bash scripts/mpi-netns.sh        (needs root, iproute2, util-linux, mpirun, a built tree)
# Exit 0: passed. Exit 1: failed. Exit 77: cannot create network namespaces here (says why).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NA=wrn-mpi-a NB=wrn-mpi-b
SUBNET=10.77.0.0/24 IPA=10.77.0.1 IPB=10.77.0.2

skip() { echo "mpi-netns: skipped: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
command -v unshare >/dev/null || skip "util-linux (unshare) is not installed"
command -v mpirun >/dev/null || skip "mpirun is not installed"
[ -f native/mpi/build/Release/wrn_mpi.node ] || { echo "mpi-netns: the MPI addon is not built (npm run build:mpi)"; exit 1; }
[ -f dist/test/distributed/mpiWorker.js ] || { echo "mpi-netns: build first (npx tsc -p tsconfig.json)"; exit 1; }

removeNamespaces() {
  ip netns del "$NA" 2>/dev/null || true
  ip netns del "$NB" 2>/dev/null || true
  rm -rf "/etc/netns/$NA" "/etc/netns/$NB"
}
removeNamespaces # left over from an interrupted run
WORK=$(mktemp -d)
trap 'removeNamespaces; rm -rf "$WORK"' EXIT

ip netns add "$NA" 2>"$WORK/err" || skip "ip netns add failed: $(cat "$WORK/err")"
ip netns add "$NB"
ip link add veth-a netns "$NA" type veth peer name veth-b netns "$NB"
ip -n "$NA" addr add "$IPA/24" dev veth-a
ip -n "$NB" addr add "$IPB/24" dev veth-b
for ns in "$NA" "$NB"; do ip -n "$ns" link set lo up; done
ip -n "$NA" link set veth-a up
ip -n "$NB" link set veth-b up
for ns in "$NA" "$NB"; do
  mkdir -p "/etc/netns/$ns"
  printf '127.0.0.1 localhost\n%s hosta\n%s hostb\n' "$IPA" "$IPB" >"/etc/netns/$ns/hosts"
done

# Launch agent: called as `agent [options] HOST COMMAND...` like ssh; runs COMMAND in HOST's namespace.
cat >"$WORK/agent" <<AGENT
#!/usr/bin/env bash
while [[ "\$1" == -* ]]; do shift; done
host=\$1; shift
case "\$host" in hosta) ns=$NA ;; hostb) ns=$NB ;; *) echo "agent: unknown host \$host" >&2; exit 1 ;; esac
exec ip netns exec "\$ns" unshare --uts bash -c "hostname \$host; cd $ROOT; \$*"
AGENT
chmod +x "$WORK/agent"
printf 'hosta slots=1\nhostb slots=1\n' >"$WORK/hostfile"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 SYNC_BN=1
tx() { ip netns exec "$NA" cat /sys/class/net/veth-a/statistics/tx_bytes; }
before=$(tx)
echo "mpi-netns: 2 ranks on hosta ($IPA, netns $NA) and hostb ($IPB, netns $NB), TCP over the veth only"
ip netns exec "$NA" unshare --uts bash -c "hostname hosta; cd $ROOT; mpirun -np 2 --hostfile $WORK/hostfile --map-by node \
  --mca plm_rsh_agent $WORK/agent --mca pml ob1 --mca btl tcp,self \
  --mca btl_tcp_if_include $SUBNET --mca oob_tcp_if_include $SUBNET -x SYNC_BN \
  bash -c 'echo \"rank \$OMPI_COMM_WORLD_RANK on \$(hostname)\" >&2; exec node dist/test/distributed/mpiWorker.js sgd $WORK js'"
after=$(tx)
node dist/test/distributed/mpiWorker.js sgd "$WORK" js
node --input-type=module - "$WORK" "$((after - before))" <<'JS'
import { readSafetensors } from './dist/src/io/safetensors.js';
const [dir, bytes] = process.argv.slice(2);
const load = (n) => readSafetensors(`${dir}/sgd-${n}.safetensors`).tensors;
const [r0, r1, ref] = [load(0), load(1), load('ref')];
let worst = 0, key = '', identical = true;
for (const [k, t] of ref) {
  const a = r0.get(k).data, b = r1.get(k).data, u = t.data;
  let d = 0, m = 0;
  for (let i = 0; i < u.length; i++) { d = Math.max(d, Math.abs(a[i] - u[i])); m = Math.max(m, Math.abs(u[i])); if (!Object.is(a[i], b[i])) identical = false; }
  if (d / (m || 1) > worst) { worst = d / (m || 1); key = k; }
}
console.log(`mpi-netns: ${bytes} bytes sent over veth-a; ranks bitwise identical: ${identical}; worst relative difference to 1 process x 64: ${worst.toExponential(2)} (${key})`);
if (!identical || !(worst <= 1e-6) || Number(bytes) < 100000) { console.log('mpi-netns: FAILED'); process.exit(1); }
console.log('mpi-netns: passed');
JS

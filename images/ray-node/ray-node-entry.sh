#!/bin/sh
# ray-node's entrypoint: start this node's own dockerd (as harness/dind does), wait until it
# answers, then, when RAY_ADDRESS is set, join that Ray cluster as a node advertising one
# Docker engine (custom resource harness_docker=1). With a command given, run it instead.
# Exits when dockerd or Ray exits, so the container's state tells the node's.
set -eu

# a restarted container (a revived node) keeps /var/run: drop the dead daemon's pid files
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
dockerd --host=tcp://0.0.0.0:2375 --host=unix:///var/run/docker.sock \
        --tls=false --storage-driver=overlay2 >/var/log/dockerd.log 2>&1 &
DOCKERD_PID=$!

tries=0
until docker version >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -gt 120 ] || ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
    echo "ray-node: dockerd did not come up; last log lines:" >&2
    tail -n 20 /var/log/dockerd.log >&2
    exit 1
  fi
  sleep 0.5
done
echo "ray-node: dockerd ready"

if [ "$#" -gt 0 ]; then
  exec "$@"
fi

if [ -z "${RAY_ADDRESS:-}" ]; then
  echo "ray-node: RAY_ADDRESS unset, serving Docker only"
  wait "$DOCKERD_PID"
  exit $?
fi

# This node's own address on its network (first one `hostname -i` prints), unless given.
NODE_IP="${RAY_NODE_IP:-$(hostname -i | awk '{print $1}')}"
if [ -z "${RAY_NODE_RESOURCES:-}" ]; then RAY_NODE_RESOURCES='{"harness_docker": 1}'; fi
echo "ray-node: joining $RAY_ADDRESS as $NODE_IP"
exec ray start --address="$RAY_ADDRESS" --node-ip-address="$NODE_IP" \
     --resources="$RAY_NODE_RESOURCES" --disable-usage-stats \
     --object-store-memory="${RAY_OBJECT_STORE_BYTES:-536870912}" \
     ${RAY_NODE_ARGS:-} --block

#!/usr/bin/env bash
# Bring up the whole orderflow system on a local kind cluster:
#   1. create the kind cluster (kind/cluster.yaml) unless it exists,
#   2. build the image (images/Dockerfile) and load it into the cluster nodes,
#   3. install/upgrade the chart with charts/orderflow/values-dev.yaml (in-cluster dev PostgreSQL,
#      paper trading),
#   4. apply the example TradingStrategy (examples/whale-follow.yaml),
#   5. wait until the migrations Job completed, every pod is ready and the strategy is Ready,
#   6. run `helm test` (every service answers /readyz and /metrics through its Service).
#
# Usage:   POLYGON_RPC_URL=wss://your-polygon-node kind/up.sh     (or just kind/up.sh)
# Needs:   kind, kubectl, helm (v3.8+ or v4) and docker (or podman: CONTAINER_ENGINE=podman).
# Options (environment):
#   POLYGON_RPC_URL     Polygon WebSocket endpoint for the listener (default: the public,
#                       rate-limited endpoint in values-dev.yaml)
#   NO_LISTENER=1       install without the listener (no node needed; nothing is ingested)
#   CLUSTER_NAME        kind cluster name             (default: orderflow)
#   NAMESPACE           namespace of the release      (default: orderflow)
#   RELEASE             Helm release name             (default: orderflow)
#   IMAGE               image name:tag to build/load  (default: orderflow:dev, as values-dev.yaml)
#   CONTAINER_ENGINE    docker or podman              (default: docker)
#   WAIT_TIMEOUT        per wait step                 (default: 600s)
#   SKIP_BUILD=1        reuse an image already loaded into the cluster
# Re-running is safe: an existing cluster is reused and the release is upgraded.
# CI cannot run this (no container engine there); it renders and validates the same chart with
# the same values files instead (tests/chart).
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER_NAME="${CLUSTER_NAME:-orderflow}"
NAMESPACE="${NAMESPACE:-orderflow}"
RELEASE="${RELEASE:-orderflow}"
IMAGE="${IMAGE:-orderflow:dev}"
CONTAINER_ENGINE="${CONTAINER_ENGINE:-docker}"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-600s}"
CHART="$ROOT/charts/orderflow"
VALUES="$CHART/values-dev.yaml"
EXAMPLE="$ROOT/examples/whale-follow.yaml"
CONTEXT="kind-$CLUSTER_NAME"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'up.sh: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is not installed ($2)"; }

need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
need helm "https://helm.sh/docs/intro/install/"
need "$CONTAINER_ENGINE" "a container engine builds the image"

listener_args=()
if [ "${NO_LISTENER:-0}" = "1" ]; then
  listener_args=(--set listener.enabled=false)
elif [ -z "${POLYGON_RPC_URL:-}" ]; then
  log "POLYGON_RPC_URL not set: the listener uses the public endpoint of values-dev.yaml"
else
  case "$POLYGON_RPC_URL" in
    ws://*|wss://*) ;;
    *) die "POLYGON_RPC_URL must start with ws:// or wss://" ;;
  esac
  listener_args=(--set-string "secrets.polygonRpcUrl=$POLYGON_RPC_URL")
fi

kc() { kubectl --context "$CONTEXT" -n "$NAMESPACE" "$@"; }

# On failure, show what is not ready and why, instead of only a timeout.
diagnose() {
  local status=$?
  trap - ERR
  log "failed (exit $status); cluster state:"
  kc get pods,jobs,statefulsets,deployments -o wide 2>/dev/null || true
  kc get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 25 || true
  for pod in $(kc get pods -o jsonpath='{range .items[?(@.status.phase!="Succeeded")]}{.metadata.name}{"\n"}{end}' 2>/dev/null); do
    if ! kc get pod "$pod" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -q True; then
      log "logs of $pod"
      kc logs "$pod" --all-containers --tail=40 2>/dev/null || true
    fi
  done
  exit "$status"
}
trap diagnose ERR

# kind runs its nodes in the same engine (every kind command, not only create, needs to know).
if [ "$CONTAINER_ENGINE" = "podman" ]; then export KIND_EXPERIMENTAL_PROVIDER=podman; fi

# 1. cluster
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  log "reusing kind cluster $CLUSTER_NAME"
else
  log "creating kind cluster $CLUSTER_NAME"
  kind create cluster --name "$CLUSTER_NAME" --config "$ROOT/kind/cluster.yaml" --wait 120s
fi

# 2. image
if [ "${SKIP_BUILD:-0}" != "1" ]; then
  log "building $IMAGE"
  "$CONTAINER_ENGINE" build -f "$ROOT/images/Dockerfile" -t "$IMAGE" "$ROOT"
  log "loading $IMAGE into the cluster"
  if [ "$CONTAINER_ENGINE" = "docker" ]; then
    kind load docker-image "$IMAGE" --name "$CLUSTER_NAME"
  else
    # podman names a local image localhost/NAME; the pods ask for docker.io/library/NAME.
    saved="$IMAGE"
    case "$IMAGE" in
      */*) ;;
      *) saved="docker.io/library/$IMAGE"; "$CONTAINER_ENGINE" tag "$IMAGE" "$saved" ;;
    esac
    archive="$(mktemp -t orderflow-image.XXXXXX.tar)"
    "$CONTAINER_ENGINE" save -o "$archive" "$saved"
    kind load image-archive "$archive" --name "$CLUSTER_NAME"
    rm -f "$archive"
  fi
fi

# 3. chart (the CRD in charts/orderflow/crds is installed by helm on first install)
repository="${IMAGE%:*}"
tag="${IMAGE##*:}"
example_args=()
if [ -f "$EXAMPLE" ]; then
  example_args=(--set exampleStrategy.enabled=false)  # applied with kubectl below instead
fi
log "installing release $RELEASE into namespace $NAMESPACE"
helm upgrade --install "$RELEASE" "$CHART" \
  --kube-context "$CONTEXT" --namespace "$NAMESPACE" --create-namespace \
  -f "$VALUES" \
  --set-string "image.repository=$repository" --set-string "image.tag=$tag" \
  ${listener_args[@]+"${listener_args[@]}"} ${example_args[@]+"${example_args[@]}"}

# 4. example strategy
kubectl --context "$CONTEXT" wait --for=condition=Established --timeout=60s \
  crd/tradingstrategies.orderflow.io
if [ -f "$EXAMPLE" ]; then
  log "applying $(basename "$EXAMPLE")"
  strategy="$(kc apply -f "$EXAMPLE" -o name)"
else
  strategy="tradingstrategy.orderflow.io/whale-follow"  # the chart's exampleStrategy (values-dev.yaml)
fi

# 5. wait
selector="app.kubernetes.io/instance=$RELEASE"
# With the dev database the migrations Job is a release object; as a hook (external database)
# Helm already waited for it and deleted it on success.
migrations="$(kc get jobs -l "$selector,app.kubernetes.io/component=migrations" -o name)"
if [ -n "$migrations" ]; then
  log "waiting for the schema migrations"
  # shellcheck disable=SC2086  # one word per Job name
  kc wait --for=condition=Complete --timeout="$WAIT_TIMEOUT" $migrations
fi
log "waiting for rollouts"
for workload in $(kc get deployments,statefulsets -l "$selector" -o name); do
  kc rollout status "$workload" --timeout="$WAIT_TIMEOUT"
done
log "waiting for every pod to be ready"
kc wait --for=condition=Ready --timeout="$WAIT_TIMEOUT" pod \
  -l "$selector,app.kubernetes.io/component notin (migrations,reputation,test)"
log "waiting for TradingStrategy $strategy"
kc wait --for=condition=Ready --timeout="$WAIT_TIMEOUT" "$strategy"

log "helm test: /readyz and /metrics of every service"
helm test "$RELEASE" --kube-context "$CONTEXT" --namespace "$NAMESPACE" --logs

trap - ERR
kc get pods -l "$selector"
kc get tradingstrategies
cat <<MSG

orderflow is up on kind cluster "$CLUSTER_NAME" (namespace $NAMESPACE).
  kubectl --context $CONTEXT -n $NAMESPACE get ts
  kubectl --context $CONTEXT -n $NAMESPACE patch $strategy --type merge -p '{"spec":{"paused":true}}'
  kubectl --context $CONTEXT -n $NAMESPACE logs -f -l $selector,app.kubernetes.io/component=executor
Tear down:  kind delete cluster --name $CLUSTER_NAME
MSG

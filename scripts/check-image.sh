#!/usr/bin/env bash
# Check a built orderflow image (scripts/build-image.sh) without a container engine: its
# configuration and contents, then each role run the way the chart runs it, as uid 10001 with a
# read-only root filesystem and only /tmp writable (the chart's one emptyDir), against a real
# PostgreSQL started here. Exits non-zero if any check fails.
#
#   sudo scripts/check-image.sh            # IMAGE=localhost/orderflow:dev by default
#   sudo VERBOSE=1 scripts/check-image.sh  # also the end of each role's output
#
# The roles run in a private mount and PID namespace (unshare) chrooted into the image's
# filesystem (buildah mount), with the image's own Env, WorkingDir, User and Entrypoint read from
# its configuration; they share the host's network, so PostgreSQL listens on 127.0.0.1. The
# database comes from the project's embedded server (pgserver), run by PYTHON (.venv/bin/python);
# the chart's own `python -c` commands are rendered by HELM (tools/bin/helm; skipped without it).
# Needs root, buildah and util-linux's unshare.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/buildah-env.sh
source "$ROOT/scripts/buildah-env.sh"
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
HELM=${HELM:-$ROOT/tools/bin/helm}

if [[ $(id -u) -ne 0 ]]; then
    echo "check-image.sh: run as root (buildah mount, unshare and chroot need it)" >&2
    exit 2
fi
if ! image_exists "$IMAGE"; then
    echo "check-image.sh: no image $IMAGE in $BUILDAH_DIR: run scripts/build-image.sh" >&2
    exit 2
fi

work=$(mktemp -d /tmp/orderflow-image-check.XXXXXX)
chmod 0755 "$work"
ctr=""
db_started=""
cleanup() {
    if [[ -n $db_started ]]; then
        PYTHONPATH="$ROOT" "$PYTHON" "$ROOT/scripts/image_check_db.py" stop "$work/db" || true
    fi
    if [[ -n $ctr ]]; then
        buildah_ umount "$ctr" >/dev/null 2>&1 || true
        buildah_ rm "$ctr" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
pass() { echo "ok    $1"; }
fail() {
    echo "FAIL  $1"
    if [[ -n ${2:-} ]]; then sed 's/^/      /' <<<"$2" | tail -n 25; fi
    failures=$((failures + 1))
}

# --- the image's configuration --------------------------------------------------------------
buildah_ inspect --type image "$IMAGE" >"$work/inspect.json"
config() { # config FIELD: one line per item of the image config's FIELD (a list or a string)
    python3 - "$work/inspect.json" "$1" <<'EOF'
import json, sys
value = json.load(open(sys.argv[1]))["OCIv1"]["config"].get(sys.argv[2]) or []
print("\n".join(value) if isinstance(value, list) else value)
EOF
}
mapfile -t image_env < <(config Env)
mapfile -t entrypoint < <(config Entrypoint)
mapfile -t default_cmd < <(config Cmd)
user=$(config User)
workdir=$(config WorkingDir)
env_value() {
    local kv
    for kv in "${image_env[@]}"; do
        if [[ $kv == "$1="* ]]; then echo "${kv#*=}"; fi
    done
}

size=$(buildah_ images --format '{{.Size}}' "$IMAGE" | head -n 1)
echo "image $IMAGE: $size"
[[ $user == "10001:10001" ]] && pass "runs as 10001:10001" || fail "User is '$user', not 10001:10001"
[[ ${entrypoint[*]} == "/usr/bin/tini -- orderflow" ]] && pass "entrypoint tini -- orderflow" \
    || fail "Entrypoint is '${entrypoint[*]}'"
[[ $(env_value HEALTH_PORT) == 8080 ]] && pass "HEALTH_PORT=8080" || fail "HEALTH_PORT is not 8080"

# --- its contents ---------------------------------------------------------------------------
ctr=$(buildah_ from --pull=never "$IMAGE")
mnt=$(buildah_ mount "$ctr")
site=$(echo "$mnt"/opt/orderflow/lib/python3*/site-packages)
migrations=$(env_value ORDERFLOW_MIGRATIONS_DIR)
n_sql=$(find "$mnt$migrations" -maxdepth 1 -name '*.sql' 2>/dev/null | wc -l)
n_repo=$(find "$ROOT/migrations" -maxdepth 1 -name '*.sql' | wc -l)
[[ $n_sql -eq $n_repo && $n_sql -gt 0 ]] && pass "ORDERFLOW_MIGRATIONS_DIR holds the $n_sql migrations" \
    || fail "ORDERFLOW_MIGRATIONS_DIR=$migrations holds $n_sql .sql files, the repository $n_repo"
for pkg in orderflow orderflow_operator; do
    [[ -f $site/$pkg/__init__.py ]] && pass "package $pkg installed" || fail "package $pkg missing from $site"
done
# Nothing of the build machine or the repository beyond the package and the migrations: no
# virtualenv, checkout, tests, sources, pip cache or compiler; no private key or .env file
# outside third-party packages (their own test suites ship sample keys).
unwanted=$(cd "$mnt" && find . -xdev \( -name .venv -o -name .git -o -name '.env' -o -name '.env.*' \
    -o -name 'id_rsa*' -o -name 'id_ed25519*' \) -print 2>/dev/null || true)
for path in src opt/orderflow/lib/python3.11/site-packages/tests root/.cache etc/pip.conf usr/bin/gcc \
    usr/bin/cc; do
    if [[ -e $mnt/$path ]]; then unwanted+=$'\n'"./$path"; fi
done
unwanted+=$'\n'$(find "$site/orderflow" "$site/orderflow_operator" \( -name 'test_*' -o -name conftest.py \) 2>/dev/null || true)
unwanted+=$'\n'$(cd "$mnt" && grep -rlE -- "-----BEGIN ([A-Z]+ )?PRIVATE KEY-----" etc root home tmp var \
    opt/orderflow/share "${site#"$mnt"/}/orderflow" "${site#"$mnt"/}/orderflow_operator" 2>/dev/null || true)
unwanted=$(sed '/^$/d' <<<"$unwanted")
if [[ -z $unwanted ]]; then
    pass "no .venv, .git, tests, sources, private keys, .env, pip cache or compiler"
else
    fail "unwanted files in the image" "$unwanted"
fi

# --- running it -----------------------------------------------------------------------------
# The engine's way: buildah run with the image's configuration, entrypoint and default command.
if out=$(buildah_ run --isolation chroot --user "$user" "$ctr" -- "${entrypoint[@]}" "${default_cmd[@]}" 2>&1) \
    && grep -q "operator" <<<"$out"; then
    pass "buildah run: entrypoint + CMD (orderflow --help)"
else
    fail "buildah run: entrypoint + CMD" "$out"
fi

# The chart's way: read-only root, uid 10001 and only /tmp writable (the chart's one emptyDir;
# the image's ORDERFLOW_DATA_DIR, /var/lib/orderflow, stays read-only: no pod has a database of
# its own). /tmp is a host directory shared by every run, so what the roles wrote can be listed
# at the end. Only the image's Env (plus NAME=VALUE) is passed.
mkdir -p "$work/root" "$work/tmp"
chmod 1777 "$work/tmp"
cat >"$work/runner.sh" <<'EOF'
set -euo pipefail
mnt=$1 work=$2 uid=$3 wd=$4; shift 4
root=$work/root
mount --make-rprivate /
mount --bind "$mnt" "$root"
mount -o remount,bind,ro "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --bind "$work/tmp" "$root/tmp"
exec chroot --userspec="$uid" "$root" /usr/bin/env -i -C "$wd" "$@"
EOF
in_image() { # in_image [NAME=VALUE...] -- PROGRAM ARGS...
    local extra=()
    while [[ $1 != -- ]]; do extra+=("$1"); shift; done
    shift
    timeout --kill-after=10 "${ROLE_TIMEOUT:-120}" unshare --mount --pid --fork --kill-child \
        bash "$work/runner.sh" "$mnt" "$work" "$user" "$workdir" "${image_env[@]}" "${extra[@]}" "$@"
}
expect() { # expect NAME WANT_RC PATTERN [NAME=VALUE...] -- PROGRAM ARGS...
    local name=$1 want=$2 pattern=$3 rc=0 out took
    shift 3
    SECONDS=0
    out=$(in_image "$@" 2>&1) || rc=$?
    took=$SECONDS
    if [[ $rc -eq $want ]] && grep -Eq -- "$pattern" <<<"$out"; then
        pass "$name: exit $rc, ${took} s"
        if [[ -n ${VERBOSE:-} ]]; then sed 's/^/      | /' <<<"$out" | tail -n 8; fi
    else
        fail "$name: exit $rc (wanted $want and /$pattern/), ${took} s" "$out"
    fi
}

expect "root filesystem is read-only for the roles" 1 "Read-only file system" \
    -- /bin/touch /opt/orderflow/written
expect "orderflow --help" 0 "reputation" -- "${entrypoint[@]}" --help
# Without DATABASE_URL a role stops at once with one line (the image's
# ORDERFLOW_EMBEDDED_DATABASE=false), and starts no database of its own.
expect "orderflow migrate without DATABASE_URL" 2 "^orderflow: DATABASE_URL is not set" \
    -- "${entrypoint[@]}" migrate

# A real PostgreSQL on 127.0.0.1 (the project's embedded server), as DATABASE_URL.
mkdir -p "$work/db"
dsn=$(PYTHONPATH="$ROOT" "$PYTHON" "$ROOT/scripts/image_check_db.py" start "$work/db" 2>"$work/db.log") \
    || { fail "PostgreSQL for the checks did not start" "$(cat "$work/db.log")"; exit 1; }
db_started=1
db=("DATABASE_URL=$dsn")
db_port=${dsn##*:}
db_port=${db_port%%/*}

# The chart's other programs in this image (its own `python -c` commands, rendered by helm):
# the wait-for-database init container, and the `helm test` pod (run below, with the executor).
chart_cmd() { # chart_cmd NAME: the command as NUL-separated words
    python3 -c 'import json, sys; sys.stdout.write("\0".join(json.load(open(sys.argv[1]))[sys.argv[2]]))' \
        "$work/chart.json" "$1"
}
if [[ -x $HELM ]] && PYTHONPATH="$ROOT" "$PYTHON" "$ROOT/scripts/image_check_chart.py" "$HELM" \
    >"$work/chart.json" 2>"$work/chart.log"; then
    mapfile -d '' -t wait_cmd < <(chart_cmd wait-for-database)
    mapfile -d '' -t readiness_cmd < <(chart_cmd readiness)
    expect "chart's wait-for-database (python -c)" 0 "" -- "${wait_cmd[@]}" 127.0.0.1 "$db_port"
else
    echo "skip  the chart's own commands: no helm at $HELM ($(tail -n 1 "$work/chart.log" 2>/dev/null))"
    readiness_cmd=()
fi
expect "orderflow migrate" 0 "applied $n_repo migration" "${db[@]}" -- "${entrypoint[@]}" migrate
applied=$(PYTHONPATH="$ROOT" "$PYTHON" "$ROOT/scripts/image_check_db.py" count "$dsn")
[[ $applied -eq $n_repo ]] && pass "orderflow_schema_migrations has $applied rows" \
    || fail "orderflow_schema_migrations has $applied rows, the repository $n_repo migrations"
expect "orderflow migrate, again (nothing to do)" 0 "" "${db[@]}" -- "${entrypoint[@]}" migrate
expect "orderflow reputation run" 0 "" "${db[@]}" -- "${entrypoint[@]}" reputation run

# The operator without a cluster stops at once with a readable error and exit code 1
# (docs/operator.md): first without credentials, then with a kubeconfig whose server refuses.
expect "orderflow operator, no credentials" 1 "no Kubernetes API credentials" \
    "${db[@]}" -- "${entrypoint[@]}" operator --namespace orderflow --standalone
closed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/tmp/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:$closed_port", insecure-skip-tls-verify: true}}]
users: [{name: none, user: {token: not-a-token}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
EOF
chmod 0644 "$work/tmp/kubeconfig"
expect "orderflow operator, API server not answering" 1 "Kubernetes API at https://127.0.0.1:$closed_port does not answer" \
    "${db[@]}" KUBECONFIG=/tmp/kubeconfig -- "${entrypoint[@]}" operator --namespace orderflow --standalone
rm -f "$work/tmp/kubeconfig"

# A long-running role as a pod runs it: the executor (paper trading, the strategy seeded from
# the environment) serves /healthz, /readyz and /metrics on HEALTH_PORT, and stops promptly on
# SIGTERM sent to PID 1 (tini, which forwards it), as the kubelet does.
health_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
in_image "${db[@]}" "HEALTH_PORT=$health_port" -- "${entrypoint[@]}" execute >"$work/execute.log" 2>&1 &
runner=$!
served=""
for _ in $(seq 60); do
    if curl -fsS "http://127.0.0.1:$health_port/readyz" >"$work/readyz" 2>&1 \
        && curl -fsS "http://127.0.0.1:$health_port/healthz" >/dev/null 2>&1 \
        && curl -fsS "http://127.0.0.1:$health_port/metrics" >"$work/metrics" 2>&1; then
        served=1
        break
    fi
    kill -0 "$runner" 2>/dev/null || break
    sleep 1
done
if [[ -n $served ]]; then
    pass "orderflow execute: /readyz $(tr -d '\n' <"$work/readyz" | cut -c1-80), /healthz, /metrics ($(grep -c '^orderflow_' "$work/metrics") orderflow_ samples)"
else
    fail "orderflow execute: no /readyz, /healthz and /metrics on HEALTH_PORT=$health_port" "$(cat "$work/execute.log")"
fi
if [[ ${#readiness_cmd[@]} -gt 0 && -n $served ]]; then
    expect "chart's helm test pod (python -c) against the executor" 0 "/metrics 200" -- \
        "${readiness_cmd[@]}" "http://127.0.0.1:$health_port/readyz" "http://127.0.0.1:$health_port/metrics"
fi
# PID 1 of the role's PID namespace (tini), below $runner: a subshell, timeout, unshare (which
# ignores SIGTERM while it waits: the signal must go to tini itself, as the kubelet's does).
pid1=$runner
for _ in 1 2 3 4 5; do
    pid1=$(pgrep -P "$pid1" | head -n 1 || true)
    if [[ -z $pid1 || $(cat "/proc/$pid1/comm" 2>/dev/null) == tini ]]; then break; fi
done
SECONDS=0
if [[ -n $pid1 && $(cat "/proc/$pid1/comm" 2>/dev/null) == tini ]] && kill -TERM "$pid1"; then
    rc=0
    wait "$runner" || rc=$?
    if [[ $rc -eq 0 && $SECONDS -le 20 ]]; then
        pass "orderflow execute: SIGTERM to PID 1 (tini) stops it, exit 0, ${SECONDS} s"
    else
        fail "orderflow execute: after SIGTERM exit $rc, ${SECONDS} s" "$(cat "$work/execute.log")"
    fi
else
    fail "orderflow execute: no process to send SIGTERM to" "$(cat "$work/execute.log")"
    wait "$runner" || true
fi

# What the roles wrote: only the writable directory can hold anything.
written=$(cd "$work" && find tmp -mindepth 1 | sort)
echo "      written by the roles under /tmp: ${written:-nothing}" | tr '\n' ' '
echo

if [[ $failures -gt 0 ]]; then
    echo "$failures check(s) failed for $IMAGE"
    exit 1
fi
echo "all checks passed for $IMAGE ($size)"

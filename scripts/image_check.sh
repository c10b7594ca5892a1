#!/usr/bin/env bash
# Build the container image and check it serves, hardened as compose.yaml runs it (`make image-check`).
#
# Uses docker when a Docker daemon answers, podman otherwise (installed with apt-get when missing
# and run as root). With podman everything is kept under .image/ (ignored by git and by the build
# context): its storage, the cached base image tarball and the build log. Where no registry can be
# reached, the base image is made locally: Debian bookworm (minbase, python3 + venv) by mmdebstrap,
# imported as localhost/debian-python:bookworm. Set BASE_IMAGE to use another (e.g. python:3.11-slim).
#
# The merged-usr hook makes /usr merged itself, so usrmerge (and the perl it pulls, ~50 MB) is not
# installed.
#
# Checks: the build (no torch in the image), /readyz within READY_TIMEOUT, a prediction, the page,
# a non-root uid for every process, a read-only root (a write outside /tmp fails, /tmp works), the
# health check, the image size (at most IMAGE_MAX_MB), and a clean, quick stop on SIGTERM.
# Any failure ends it with one line "image-check: FAIL: ..." and a non-zero exit; the container is
# removed either way.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

IMAGE=${IMAGE:-localhost/modeldistill:check}
NAME=${NAME:-modeldistill-check-$$}
PORT=${PORT:-18000}
CACHE=${IMAGE_CACHE:-$ROOT/.image}
IMAGE_MAX_MB=${IMAGE_MAX_MB:-500}
READY_TIMEOUT=${READY_TIMEOUT:-120}
STOP_MAX_S=${STOP_MAX_S:-10}          # compose.yaml's stop_grace_period is 20 s, --shutdown-timeout 10 s
LOCAL_BASE=localhost/debian-python:bookworm
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

fail() { echo "image-check: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
ok() { echo "   ok: $*"; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

mkdir -p "$CACHE"

apt_install() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
        || fail "$* missing and cannot be installed here (needs root and apt-get)"
    echo "   installing with apt-get: $*"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } \
        >"$CACHE/apt.log" 2>&1 || fail "apt-get install $* failed (see $CACHE/apt.log)"
}

# ---------------------------------------------------------------------------------------------
step "engine: docker if its daemon answers, else podman"
if [ -n "${ENGINE:-}" ]; then
    :
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    ENGINE=docker
else
    ENGINE=podman
fi
if [ "$ENGINE" = docker ]; then
    C=(docker)
    RUN_EXTRA=()
    BUILD_EXTRA=()
    BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim}
else
    need=()
    command -v podman >/dev/null || need+=(podman)
    command -v runc >/dev/null || need+=(runc)
    command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
    command -v newuidmap >/dev/null || need+=(uidmap)
    command -v fuse-overlayfs >/dev/null || need+=(fuse-overlayfs)
    [ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
    [ "$(id -u)" = 0 ] || fail "podman is run rootful here: run as root (or start a Docker daemon)"
    # runc: crun refuses a mixed cgroup layout; cgroupfs and a file event log need no systemd.
    C=(podman --root "$CACHE/podman/root" --runroot "$CACHE/podman/run"
        --runtime runc --cgroup-manager cgroupfs --events-backend file)
    [ -z "${STORAGE_DRIVER:-}" ] || C+=(--storage-driver "$STORAGE_DRIVER")
    # The sandbox cannot raise limits: ask for what the hard limit already is.
    nofile=$(ulimit -Hn)
    [ "$nofile" = unlimited ] && nofile=1048576
    RUN_EXTRA=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=32768:32768)
    BUILD_EXTRA=(--format docker --network host)   # OCI format would drop the HEALTHCHECK
    if [ -f "$CA_BUNDLE" ]; then                     # egress that re-signs TLS: mounted, not copied
        BUILD_EXTRA+=(-v "$CA_BUNDLE:$CA_BUNDLE:ro" --build-arg "PIP_CERT=$CA_BUNDLE")
    fi
    BASE_IMAGE=${BASE_IMAGE:-$LOCAL_BASE}
fi
ok "$ENGINE ($("${C[0]}" --version))"

cleanup() { "${C[@]}" rm -f "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
if [ "$ENGINE" = podman ] && [ "$BASE_IMAGE" = "$LOCAL_BASE" ]; then
    step "base image $LOCAL_BASE (Debian bookworm minbase + python3, python3-venv)"
    if "${C[@]}" image exists "$LOCAL_BASE"; then
        ok "already in podman's storage"
    else
        tarball=$CACHE/debian-python-bookworm.tar
        if [ -s "$tarball" ]; then
            ok "cached tarball $tarball"
        else
            t0=$(now)
            part=$CACHE/debian-python-bookworm.part.tar   # mmdebstrap picks the format by the name
            rm -rf "$part"
            mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,passwd \
                --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
                --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
                --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
                bookworm "$part" >"$CACHE/mmdebstrap.log" 2>&1 \
                || fail "mmdebstrap of bookworm failed (see $CACHE/mmdebstrap.log)"
            mv "$part" "$tarball"
            ok "mmdebstrap made $tarball in $(since "$t0") s"
        fi
        "${C[@]}" import --change 'CMD ["/bin/bash"]' "$tarball" "$LOCAL_BASE" >"$CACHE/import.log" 2>&1 \
            || fail "podman import of $tarball failed (see $CACHE/import.log)"
        ok "imported as $LOCAL_BASE"
    fi
fi

# ---------------------------------------------------------------------------------------------
step "build $IMAGE from Dockerfile (BASE_IMAGE=$BASE_IMAGE); log in $CACHE/build.log"
t0=$(now)
if ! "${C[@]}" build "${BUILD_EXTRA[@]}" --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE" . \
        >"$CACHE/build.log" 2>&1; then
    tail -n 25 "$CACHE/build.log" >&2
    fail "image build failed (see $CACHE/build.log)"
fi
BUILD_S=$(since "$t0")
ok "built in $BUILD_S s (the Dockerfile's own step fails the build if torch is importable)"

step "image size (checked against $IMAGE_MAX_MB MB at the end, after the other checks)"
size=$("${C[@]}" image inspect --format '{{.Size}}' "$IMAGE")
SIZE_MB=$((size / 1000000))
echo "   image size: $SIZE_MB MB ($size bytes)"

step "the image declares a HEALTHCHECK, a non-root USER and SIGTERM-friendly CMD"
hc=$("${C[@]}" image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE" 2>/dev/null || true)
case "$hc" in *healthz*) ok "healthcheck: $hc" ;; *) fail "image has no HEALTHCHECK on /healthz (got: ${hc:-nothing}); build with --format docker" ;; esac
user=$("${C[@]}" image inspect --format '{{.Config.User}}' "$IMAGE")
case "$user" in "" | root | 0 | 0:*) fail "image runs as root (USER '${user}')" ;; *) ok "USER $user" ;; esac

# ---------------------------------------------------------------------------------------------
step "compose.yaml's hardening is what this check runs with"
for want in 'read_only: true' '- /tmp' '- ALL' 'no-new-privileges:true' '"127.0.0.1:8000:8000"' 'stop_signal: SIGTERM'; do
    grep -qF -- "$want" compose.yaml || fail "compose.yaml no longer has '$want': update this script with it"
done
ok "read-only root, tmpfs /tmp, cap-drop ALL, no-new-privileges, port on 127.0.0.1, SIGTERM"

step "run $NAME: read-only root, tmpfs /tmp, cap-drop ALL, no-new-privileges, 127.0.0.1:$PORT"
t0=$(now)
if ! out=$("${C[@]}" run -d --name "$NAME" "${RUN_EXTRA[@]}" \
    --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
    --stop-signal SIGTERM --stop-timeout 20 \
    -e MODELDISTILL_MODEL=/app/models/default -e MODELDISTILL_LOG_LEVEL=INFO \
    -p "127.0.0.1:$PORT:8000" "$IMAGE" \
    modeldistill serve --host=0.0.0.0 --port=8000 --workers=2 --max-in-flight=256 2>&1); then
    echo "$out" >&2
    fail "the container did not start"
fi
ok "started"

step "wait for GET /readyz (at most $READY_TIMEOUT s)"
URL=http://127.0.0.1:$PORT
while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/readyz" || true)
    [ "$code" = 200 ] && break
    running=$("${C[@]}" inspect --format '{{.State.Running}}' "$NAME" 2>/dev/null || echo false)
    if [ "$running" != true ]; then
        "${C[@]}" logs "$NAME" 2>&1 | tail -n 20 >&2
        fail "the container exited before /readyz answered 200"
    fi
    if [ "$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]) > float(sys.argv[3]))" "$t0" "$(now)" "$READY_TIMEOUT")" = True ]; then
        "${C[@]}" logs "$NAME" 2>&1 | tail -n 20 >&2
        fail "/readyz did not answer 200 within $READY_TIMEOUT s (last: $code)"
    fi
    sleep 0.2
done
READY_S=$(since "$t0")
ok "ready $READY_S s after the run command"

step "POST /api/v1/predict (two texts)"
body=$(curl -s --max-time 10 -w '\n%{http_code}' -H 'Content-Type: application/json' \
    -d '{"texts": ["I hope you have a wonderful day, friend.", "You are a worthless idiot and everyone hates you."]}' \
    "$URL/api/v1/predict") || fail "POST /api/v1/predict did not answer"
code=${body##*$'\n'}
json=${body%$'\n'*}
[ "$code" = 200 ] || fail "POST /api/v1/predict answered $code: $json"
python3 -c '
import json, sys
r = json.loads(sys.argv[1])["results"]
assert len(r) == 2, f"{len(r)} results for 2 texts"
for x in r:
    assert isinstance(x["label"], str) and 0.0 <= x["score"] <= 1.0 and isinstance(x["toxic"], bool), x
    print("   %r score %.3f toxic=%s" % (x["label"], x["score"], x["toxic"]))
' "$json" || fail "POST /api/v1/predict gave an unexpected body: $json"
ok "200 with one result per text"

step "GET / is the page"
curl -s --max-time 10 "$URL/" | grep -q "Get Prediction" || fail "GET / has no 'Get Prediction'"
ok "has 'Get Prediction'"

step "every process in the container runs as a non-root uid"
uids=$("${C[@]}" exec "$NAME" python3 -c '
import os
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("Uid:"):
                    print(p, " ".join(line.split()[1:3]))
        except OSError:
            pass
') || fail "could not list the container's processes"
echo "$uids" | sed 's/^/   pid uid euid: /'
echo "$uids" | awk '$2 == 0 || $3 == 0 {bad=1} END {exit bad}' || fail "a process in the container runs as root"
ok "no process has uid 0"

step "the root filesystem is read-only (a write outside /tmp fails, even as root; /tmp works)"
if out=$("${C[@]}" exec "$NAME" sh -c 'echo x > /app/write-test' 2>&1); then
    fail "the app user could write /app/write-test"
fi
echo "   /app as app: $out"
if out=$("${C[@]}" exec --user 0 "$NAME" sh -c 'echo x > /write-test' 2>&1); then
    fail "root could write /write-test: the root filesystem is writable"
fi
echo "   / as root:   $out"
case "$out" in *"Read-only file system"*) ;; *) fail "writing / failed, but not as read-only: $out" ;; esac
"${C[@]}" exec "$NAME" sh -c 'echo x > /tmp/write-test && rm /tmp/write-test' \
    || fail "/tmp is not writable"
ok "read-only root, writable tmpfs /tmp"

step "no torch (or transformers) in the image"
"${C[@]}" exec "$NAME" python3 -c '
import importlib.util, sys
found = [m for m in ("torch", "transformers") if importlib.util.find_spec(m)]
print("   importable:", found or "neither")
sys.exit(bool(found))
' || fail "the image holds torch or transformers"
ok "neither is importable"

step "the image's health check passes"
"${C[@]}" exec "$NAME" python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)" \
    || fail "the HEALTHCHECK command failed"
if [ "$ENGINE" = podman ]; then
    "${C[@]}" healthcheck run "$NAME" >/dev/null || fail "podman healthcheck run says unhealthy"
fi
ok "healthy"

step "biggest site-packages in the image"
"${C[@]}" exec "$NAME" sh -c 'du -sh /opt/venv/lib/python3*/site-packages/* | sort -h | tail -n 12' \
    | sed 's/^/   /'

step "stop with SIGTERM: exit 0 within $STOP_MAX_S s"
t0=$(now)
# (podman without systemd logs an error about its health-check timer here: harmless, kept quiet)
out=$("${C[@]}" stop -t 20 "$NAME" 2>&1) || { echo "$out" >&2; fail "stop failed"; }
STOP_S=$(since "$t0")
exit_code=$("${C[@]}" inspect --format '{{.State.ExitCode}}' "$NAME")
"${C[@]}" logs "$NAME" 2>&1 | tail -n 3 | sed 's/^/   log: /'
[ "$exit_code" = 0 ] || fail "exit code $exit_code after SIGTERM (137 would mean it was killed)"
python3 -c "import sys; sys.exit(float(sys.argv[1]) > float(sys.argv[2]))" "$STOP_S" "$STOP_MAX_S" \
    || fail "stop took $STOP_S s, over $STOP_MAX_S s"
ok "exit 0 in $STOP_S s"

step "image size at most $IMAGE_MAX_MB MB"
[ "$SIZE_MB" -le "$IMAGE_MAX_MB" ] || fail "image is $SIZE_MB MB, over $IMAGE_MAX_MB MB (the other checks passed; see the biggest site-packages above)"
ok "$SIZE_MB MB"

echo "image-check: OK: $ENGINE, $IMAGE $SIZE_MB MB, build $BUILD_S s, ready $READY_S s, SIGTERM stop $STOP_S s"

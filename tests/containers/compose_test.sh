#!/usr/bin/env bash
# The container test: builds the image from the Dockerfile and runs docker-compose.yml for real,
# every service on the host network (tests/containers/host-network.yml) on free ports, so all
# test traffic stays on 127.0.0.1. Scenario:
#   1. /ready answers 200; /cluster lists two worker nodes and no local capacity;
#   2. 60 car-pipeline requests: all 200, both workers completed some, 60 rows, none processing;
#      every metric the Grafana dashboard queries is in the gateway's /metrics;
#   3. docker kill of one worker while 60 more requests run: all 200, one row each, the node down;
#   4. --scale worker=3 while serving: the new node joins and receives work;
#   5. docker-compose down -v leaves no container, network or volume of the project.
# It starts dockerd when none runs (and stops it again), and makes the base images it needs when
# they are missing: debian:bookworm-slim from Debian's archive (mmdebstrap) and a stand-in for
# postgres:15 built from Debian's PostgreSQL 15 (tests/containers/postgres-standin), so that it
# needs no image registry, only Debian's archive. Exit 77 (skipped, with the reason) only when
# Docker cannot run on the host at all.
#   ARTIFACT_DIR  where logs go (default: build/test-artifacts/containers)
#   IMGPROC_SAMPLE_PHOTOS  the folder of opencv-doc's sample photos (default: Debian's)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
artifacts="${ARTIFACT_DIR:-$root/build/test-artifacts/containers}"
mkdir -p "$artifacts"
photos="${IMGPROC_SAMPLE_PHOTOS:-/usr/share/doc/opencv-doc/examples/data}" # opencv-doc's
image_jpeg=$photos/licenseplate_motion.jpg
faces_jpeg=$photos/messi5.jpg

say() { printf '[containers] %s %s\n' "$(date +%T.%3N)" "$*"; }
fail() {
  printf '[containers] FAILED: %s\n' "$*" >&2
  exit 1
}
skip() {
  printf '[containers] SKIPPED: %s\n' "$*"
  exit 77
}
seconds_since() { python3 -c "import time,sys; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }

for tool in docker dockerd docker-compose mmdebstrap curl python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing: scripts/setup installs it"
done
[[ -f $image_jpeg ]] || fail "$image_jpeg is missing (opencv-doc): scripts/setup installs it"

# --- Docker itself -------------------------------------------------------------------------------
started_dockerd=""
stop_dockerd() {
  if [[ -n $started_dockerd ]]; then
    kill "$started_dockerd" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.1; done
    say "stopped the dockerd this test started"
  fi
}
if ! docker info >/dev/null 2>&1; then
  [[ $(id -u) -eq 0 ]] || skip "no Docker daemon runs and starting one needs root"
  say "starting dockerd (log: $artifacts/dockerd.log)"
  dockerd >"$artifacts/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 1 300); do
    docker info >/dev/null 2>&1 && break
    if ! kill -0 "$started_dockerd" 2>/dev/null; then
      started_dockerd=""
      skip "Docker cannot run on this host: dockerd exited: $(tail -n 3 "$artifacts/dockerd.log" | tr '\n' ' ')"
    fi
    sleep 0.2
  done
  docker info >/dev/null 2>&1 || { stop_dockerd; skip "dockerd did not answer within 60 s"; }
fi

# --- Base images, made from Debian's archive when missing ----------------------------------------
if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  say "making debian:bookworm-slim from Debian's archive (mmdebstrap)"
  start=$(date +%s.%N)
  rootfs="$(mktemp -d)/bookworm.tar"
  mmdebstrap --variant=minbase --quiet bookworm "$rootfs" >"$artifacts/mmdebstrap.log" 2>&1 ||
    fail "mmdebstrap failed: see $artifacts/mmdebstrap.log"
  docker import "$rootfs" debian:bookworm-slim >/dev/null
  rm -rf "$(dirname "$rootfs")"
  say "debian:bookworm-slim made in $(seconds_since "$start") s"
fi
if ! docker image inspect postgres:15 >/dev/null 2>&1; then
  say "no postgres:15 image: building the stand-in from Debian's postgresql-15"
  start=$(date +%s.%N)
  docker build --network host -q -t postgres:15 "$root/tests/containers/postgres-standin" \
    >"$artifacts/postgres-standin-build.log" 2>&1 ||
    fail "building the postgres:15 stand-in failed: see $artifacts/postgres-standin-build.log"
  say "postgres:15 stand-in built in $(seconds_since "$start") s"
fi

# --- The project, on free ports --------------------------------------------------------------------
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}
read -r IMGPROC_HTTP_PORT IMGPROC_CLUSTER_PORT ML_MOCK_PORT POSTGRES_PORT < <(free_ports 4)
export IMGPROC_HTTP_PORT IMGPROC_CLUSTER_PORT ML_MOCK_PORT POSTGRES_PORT
POSTGRES_PASSWORD="test-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
IMGPROC_ADMIN_TOKEN="token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
export POSTGRES_PASSWORD IMGPROC_ADMIN_TOKEN
export COMPOSE_PROJECT_NAME="imgproc-test-$$"
# The node links use mutual TLS (deploy/docker-compose.tls.yml), with a CA made for this run.
IMGPROC_CLUSTER_CERTS="$(mktemp -d)"
export IMGPROC_CLUSTER_CERTS
(
  cd "$IMGPROC_CLUSTER_CERTS"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca
  openssl req -newkey rsa:2048 -nodes -keyout node.key -out node.csr -subj /CN=test-node
  openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out node.pem -days 2
  rm ca.key node.csr
  chmod 0755 . && chmod 0644 ./* # the containers' user (uid 10001) reads them
) >"$artifacts/openssl.log" 2>&1 || fail "making the test certificates failed: see $artifacts/openssl.log"
export COMPOSE_FILE="$root/docker-compose.yml:$root/deploy/docker-compose.tls.yml:$root/tests/containers/host-network.yml"
# docker-compose 1.29 reads .env next to the first file: the test's values must win over a
# developer's .env, and the environment does.
compose() { docker-compose --project-directory "$root" "$@"; }
base="http://127.0.0.1:$IMGPROC_HTTP_PORT"

project_leftovers() {
  local filter="label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"
  docker ps -aq --filter "$filter"
  docker network ls -q --filter "$filter"
  docker volume ls -q --filter "$filter"
}
cleanup() {
  local rc=$?
  if [[ -n $(project_leftovers) ]]; then
    compose logs --no-color >"$artifacts/compose.log" 2>&1 || true
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    ((rc == 0)) || say "service logs: $artifacts/compose.log"
  fi
  rm -rf "$IMGPROC_CLUSTER_CERTS"
  stop_dockerd
  exit "$rc"
}
trap cleanup EXIT

say "checking the compose files (plain, monitoring profile, this override)"
POSTGRES_PASSWORD=x compose -f "$root/docker-compose.yml" -f "$root/docker-compose.override.yml" \
  config -q || fail "docker-compose.yml with docker-compose.override.yml does not validate"
compose config -q || fail "docker-compose.yml with the TLS and host-network overrides does not validate"
IMGPROC_JOIN=gateway.internal:4242 ML_SERVICE_URL=http://ml.internal:5000/ml-process-img \
  compose -f "$root/deploy/docker-compose.worker.yml" config -q ||
  fail "deploy/docker-compose.worker.yml does not validate"

say "building the image (docker-compose build)"
start=$(date +%s.%N)
compose build >"$artifacts/image-build.log" 2>&1 || fail "image build failed: see $artifacts/image-build.log"
say "image build time: $(seconds_since "$start") s"
image_bytes=$(docker image inspect "imgproc:local" --format '{{.Size}}')
say "runtime image size: $((image_bytes / 1000000)) MB (imgproc:local)"
say "largest packages in the runtime image (installed size, KiB):"
docker run --rm --entrypoint dpkg-query imgproc:local -Wf '${Installed-Size}\t${Package}\n' |
  sort -rn | head -n 8 | sed 's/^/[containers]     /'
docker run --rm --entrypoint sh imgproc:local -c \
  '[ "$(id -u)" != 0 ] && ! command -v cc && ! command -v g++ && ! command -v cmake' >/dev/null ||
  fail "the runtime image runs as root or carries a compiler"

# --- 1. Up, ready, two workers ---------------------------------------------------------------------
say "docker-compose up -d --build --scale worker=2"
start=$(date +%s.%N)
compose up -d --build --scale worker=2 >"$artifacts/compose-up.log" 2>&1 ||
  fail "docker-compose up failed: see $artifacts/compose-up.log"
cluster_json() { curl -fsS "$base/cluster"; }
# Polls a condition on /cluster (a python expression over `c`) until it holds, for up to $2 s.
wait_cluster() {
  local expression=$1 limit=$2 deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    if cluster_json 2>/dev/null | python3 -c "import json,sys; c=json.load(sys.stdin); sys.exit(0 if ($expression) else 1)"; then
      return 0
    fi
    sleep 0.2
  done
  fail "after ${limit} s /cluster still not: $expression; it shows $(cluster_json 2>&1)"
}
deadline=$((SECONDS + 180))
until [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/ready") == 200 ]]; do
  ((SECONDS < deadline)) || fail "/ready did not answer 200 within 180 s of up"
  sleep 0.2
done
say "up to ready: $(seconds_since "$start") s"
workers_up='sum(1 for n in c["nodes"] if n["state"] == "up" and not n["local"])'
local_capacity='sum(n["capacity"] for n in c["nodes"] if n["local"] and n["state"] == "up")'
wait_cluster "$workers_up == 2 and $local_capacity == 0" 60
grep -q 'cluster listening on .*(mutual TLS)' <(compose logs --no-color gateway) ||
  fail "the gateway's cluster port is not on mutual TLS"
for path in /openapi.json /docs /docs/swagger-ui-bundle.js; do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$base$path") == 200 ]] ||
    fail "GET $path of the gateway container did not answer 200"
done
say "step 1: /ready 200, /cluster: 2 worker nodes up (mutual TLS), no local capacity; /openapi.json and /docs served"

# Sends $2 requests named $1-N.jpg, $3 at a time; one "status filename" line each into $4.
send_requests() {
  local prefix=$1 count=$2 parallel=$3 out=$4
  : >"$out"
  seq 1 "$count" | xargs -P "$parallel" -I{} sh -c \
    'code=$(curl -s -o /dev/null -w "%{http_code}" --max-time 60 \
        -F "image_file=@$1;filename=$2-$3.jpg;type=image/jpeg" "$4/process-image?pipeline_id=1")
     echo "$code $2-$3.jpg" >>"$5"' _ "$image_jpeg" "$prefix" {} "$base" "$out"
}
# Fails unless every line of $1 is a 200 and the database holds exactly one final row per name.
check_answers_and_rows() {
  local prefix=$1 count=$2 out=$3 answered non200 rows
  answered=$(wc -l <"$out")
  non200=$(grep -vc '^200 ' "$out" || true)
  ((answered == count)) || fail "$prefix: $answered of $count requests answered"
  ((non200 == 0)) || fail "$prefix: $non200 answers were not 200: $(grep -v '^200 ' "$out" | sort | uniq -c | head)"
  rows=$(compose exec -T postgres psql -U "${POSTGRES_USER:-imgproc}" -d "${POSTGRES_DB:-imgproc}" -tAc \
    "SELECT count(*) || ' ' || count(DISTINCT filename) || ' ' ||
            count(*) FILTER (WHERE status NOT IN ('detected', 'undetected'))
       FROM tasks WHERE filename LIKE '$prefix-%'")
  [[ $rows == "$count $count 0" ]] ||
    fail "$prefix: rows, distinct names, not detected/undetected = $rows; want $count $count 0"
  say "$prefix: $count answers 200, $count rows (one per request), none processing or failed"
}
node_completed() {
  cluster_json | python3 -c 'import json,sys; print(" ".join(n["name"] + "=" + str(n["completed"]) for n in json.load(sys.stdin)["nodes"] if not n["local"]))'
}

# --- 2. 60 requests over both workers --------------------------------------------------------------
send_requests phase2 60 4 "$artifacts/phase2.txt"
check_answers_and_rows phase2 60 "$artifacts/phase2.txt"
wait_cluster 'all(n["completed"] > 0 for n in c["nodes"] if not n["local"] and n["state"] == "up")' 5
say "step 2: jobs completed per worker: $(node_completed)"

# The local detectors in the image: opencv-data's cascades and libopencv-objdetect are there, on
# the workers that run them. face-detection (id 3) finds Messi's face; people-detection (id 2)
# answers 200 on the car photo.
face=$(curl -fsS --max-time 60 -F "image_file=@$faces_jpeg;filename=messi5.jpg;type=image/jpeg" \
  "$base/process-image?pipeline_id=3") || fail "face-detection did not answer 200"
python3 -c 'import json, sys
t = json.loads(sys.argv[1])
assert t["status"] == "detected" and len(t["data"]) == 1, t
b = t["data"][0]
assert abs(b["top_left_x"] - 227) < 10 and abs(b["top_left_y"] - 94) < 10, t' "$face" ||
  fail "face-detection on messi5.jpg did not find the face: $face"
[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 60 \
  -F "image_file=@$image_jpeg;filename=car.jpg;type=image/jpeg" \
  "$base/process-image?pipeline_id=2") == 200 ]] || fail "people-detection did not answer 200"
say "local detectors: face-detection found the face in messi5.jpg ($face), people-detection answered 200"

say "every metric the Grafana dashboard queries is in the gateway's /metrics"
# Workers report their series to the gateway every 2 s: poll until their step timings are in.
deadline=$((SECONDS + 15))
until curl -fsS "$base/metrics" >"$artifacts/metrics.txt" &&
  (($(grep -c '^imgproc_step_duration_seconds_count{' "$artifacts/metrics.txt") > 0)); do
  ((SECONDS < deadline)) || fail "no worker's step timings reached the gateway's /metrics in 15 s"
  sleep 0.5
done
python3 - "$root/deploy/grafana/dashboards/imgproc.json" "$artifacts/metrics.txt" <<'EOF' ||
import json, re, sys
dashboard = json.load(open(sys.argv[1]))
scraped = {line.split("{")[0].split(" ")[0] for line in open(sys.argv[2]) if line and line[0] != "#"}
queried = {name for panel in dashboard["panels"] for target in panel["targets"]
           for name in re.findall(r"\b(?:caf|imgproc|process)_[a-z_]+", target["expr"])}
missing = sorted(queried - scraped)
if missing:
    sys.exit("not in /metrics: " + ", ".join(missing))
print(f"[containers]     {len(queried)} metric names, all scraped")
EOF
  fail "the dashboard queries metrics the service does not export"

# --- 2b. a second gateway with a wrong database password ------------------------------------------
# It must start anyway, answer /health, answer /ready 503 with the reason, and log it once.
read -r wrong_http_port wrong_cluster_port < <(free_ports 2)
# (docker run: docker-compose 1.29's `run` adds links, which the host network refuses.)
wrong=$(docker run -d --network host --label "com.docker.compose.project=$COMPOSE_PROJECT_NAME" \
  -e POSTGRES_SERVER=127.0.0.1 -e POSTGRES_PORT="$POSTGRES_PORT" -e POSTGRES_USER=imgproc \
  -e POSTGRES_DB=imgproc -e POSTGRES_PASSWORD=not-the-password -e IMGPROC_HOST=127.0.0.1 \
  -e IMGPROC_PORT="$wrong_http_port" -e IMGPROC_CLUSTER_HOST=127.0.0.1 \
  -e IMGPROC_CLUSTER_PORT="$wrong_cluster_port" -e IMGPROC_MIGRATE_ON_START=false \
  imgproc:local imgproc gateway 2>>"$artifacts/compose-up.log") ||
  fail "docker run of a second gateway failed: see $artifacts/compose-up.log"
deadline=$((SECONDS + 60))
until ready=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$wrong_http_port/ready") &&
  [[ $ready == *' 503' ]]; do
  ((SECONDS < deadline)) || fail "the gateway with a wrong password never answered /ready 503: $ready; $(docker logs "$wrong" 2>&1 | tail -5)"
  sleep 0.2
done
[[ $ready == *'password authentication failed'* ]] ||
  fail "/ready of the gateway with a wrong password does not say why: $ready"
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$wrong_http_port/health") == 200 ]] ||
  fail "the gateway with a wrong password does not answer /health"
# Its persistence actors and async runner keep failing meanwhile (five polls a second).
sleep 2
lines=$(docker logs "$wrong" 2>&1 | grep -c 'password authentication failed' || true)
((lines == 1)) || fail "the wrong password was logged $lines times: $(docker logs "$wrong" 2>&1 | tail -5)"
say "step 2b: wrong database password: /health 200, /ready 503 (${ready:0:120}...), 1 log line:"
docker logs "$wrong" 2>&1 | grep 'password authentication failed' | cut -c1-240 | sed 's/^/[containers]     /'
docker rm -f "$wrong" >/dev/null

# --- 3. docker kill one worker while 60 requests run -----------------------------------------------
worker_containers=($(compose ps -q worker))
victim=${worker_containers[0]}
victim_pid=$(docker inspect -f '{{.State.Pid}}' "$victim")
# With init: true, tini is the container's first process and imgproc its child. With pid: host
# the PID imgproc sees is a host PID, and its node's address in /cluster ends "(pid N)".
victim_pids=" $victim_pid $(ps -o pid= --ppid "$victim_pid" | tr -s ' \n' ' ' || true)"
victim_node=$(cluster_json | python3 -c "
import json, re, sys
pids = '$victim_pids'.split()
print(next(n['name'] for n in json.load(sys.stdin)['nodes']
           if re.search(r'\(pid (\d+)\)$', n['address']) and
              re.search(r'\(pid (\d+)\)$', n['address']).group(1) in pids))") ||
  fail "no node in /cluster has one of the pids $victim_pids of container ${victim:0:12}"
# The kill must land while the victim has jobs in flight, and a job takes about 10 ms: the victim
# is stopped (SIGSTOP) once requests flow, so the jobs the gateway then sends it stay in flight,
# and killed once /cluster shows some (well within the 2 s link timeout). They must be re-run on
# the other worker.
: >"$artifacts/phase3.txt"
send_requests phase3 60 16 "$artifacts/phase3.txt" &
sender=$!
deadline=$((SECONDS + 30))
until (($(wc -l <"$artifacts/phase3.txt") >= 5)); do
  ((SECONDS < deadline)) || fail "phase3: no answers within 30 s"
  sleep 0.01
done
kill -STOP $victim_pids
wait_cluster "any(n['name'] == '$victim_node' and n['in_flight'] > 0 for n in c['nodes'])" 10
answered=$(wc -l <"$artifacts/phase3.txt")
docker kill "$victim" >/dev/null
say "killed worker container ${victim:0:12} (node $victim_node) with jobs in flight, $answered of 60 answered"
wait "$sender"
check_answers_and_rows phase3 60 "$artifacts/phase3.txt"
wait_cluster "any(n['name'] == '$victim_node' and n['state'] == 'down' for n in c['nodes'])" 10
redispatched=$(cluster_json | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["redispatched"])')
((redispatched > 0)) || fail "the killed node's jobs were not re-dispatched"
say "step 3: node $victim_node is down in /cluster; $redispatched job(s) re-dispatched"

# --- 4. scale to three workers while serving -------------------------------------------------------
before=$(cluster_json | python3 -c 'import json,sys; print(" ".join(n["name"] for n in json.load(sys.stdin)["nodes"]))')
: >"$artifacts/phase4.txt"
send_requests phase4 120 4 "$artifacts/phase4.txt" &
sender=$!
compose up -d --no-recreate --scale worker=3 >>"$artifacts/compose-up.log" 2>&1 ||
  fail "docker-compose up --scale worker=3 failed: see $artifacts/compose-up.log"
wait_cluster "$workers_up == 3" 60
wait "$sender"
check_answers_and_rows phase4 120 "$artifacts/phase4.txt"
send_requests phase4b 60 4 "$artifacts/phase4b.txt"
check_answers_and_rows phase4b 60 "$artifacts/phase4b.txt"
wait_cluster "all(n['completed'] > 0 for n in c['nodes'] if not n['local'] and n['state'] == 'up' and n['name'] not in '$before'.split())" 5
say "step 4: 3 workers up; jobs completed per worker: $(node_completed)"

# --- 5. down -v leaves nothing -----------------------------------------------------------------------
compose logs --no-color >"$artifacts/compose.log" 2>&1 || true
compose down -v --remove-orphans >"$artifacts/compose-down.log" 2>&1 ||
  fail "docker-compose down -v failed: see $artifacts/compose-down.log"
leftovers=$(project_leftovers)
[[ -z $leftovers ]] || fail "docker-compose down -v left: $leftovers"
say "step 5: docker-compose down -v left no container, network or volume"
say "passed"

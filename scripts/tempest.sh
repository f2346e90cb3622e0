#!/usr/bin/env bash
# Runs Tempest (Debian package `tempest`) against a fresh all-in-one Cumulo.
#   scripts/tempest.sh [REGEX]        default: ^tempest\.api\.identity\.
# Environment: TEMPEST_WORKDIR (default: a new temp dir), CUMULO_PORT_OFFSET (default 21000),
#   TEMPEST_CONCURRENCY (default 2), TEMPEST_SWIFT=true to test object storage too,
#   TEMPEST_GLANCE=true to test the image service too, TEMPEST_NOVA=true the compute API
#   with the fake virt driver and two simulated hosts (flavors m1.tiny and m1.small and two
#   images are created for it; Nova tests need glance, so it is on too).
# Prints a JSON summary (passed/failed/skipped and the failing tests) as its last line and
# writes it to $TEMPEST_WORKDIR/summary.json. Exit status: 0 when Tempest ran, whatever it
# counted (the caller judges the counts); non-zero when the cloud or Tempest could not run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REGEX=${1:-'^tempest\.api\.identity\.'}
WORK=${TEMPEST_WORKDIR:-$(mktemp -d /tmp/cumulo-tempest.XXXXXX)}
OFFSET=${CUMULO_PORT_OFFSET:-21000}
CONC=${TEMPEST_CONCURRENCY:-2}
PORT=$((5000 + OFFSET))
PASSWORD=tempest-admin-$RANDOM$RANDOM
mkdir -p "$WORK"

CUMULO_ADMIN_PASSWORD=$PASSWORD CUMULO_LOG_LEVEL=${CUMULO_LOG_LEVEL:-warn} \
  node "$ROOT/bin/cumulo.js" up --data-dir "$WORK/cloud" --port-offset "$OFFSET" \
  --set identity.lockout_failure_attempts=2 --set identity.lockout_duration=5 \
  --set identity.unique_last_password_count=2 --set identity.minimum_password_age=0 \
  $( [ "${TEMPEST_NOVA:-false}" = true ] && echo --set compute.driver=fake --set compute.fake_hosts=2 ) \
  > "$WORK/cloud.log" 2>&1 &
CLOUD=$!
WSNAME=
cleanup() {
  kill "$CLOUD" 2>/dev/null || true; wait "$CLOUD" 2>/dev/null || true
  [ -n "$WSNAME" ] && tempest workspace remove --name "$WSNAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  if curl -sf "http://127.0.0.1:$PORT/v3" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$CLOUD" 2>/dev/null; then cat "$WORK/cloud.log" >&2; echo "cumulo did not start" >&2; exit 1; fi
  sleep 0.2
done

# Image web-download imports fetch [image] http_image: serve one from loopback (never the
# Internet) on port 80, the only plain-HTTP port Glance's default import filter allows.
HTTP_IMAGE=http://127.0.0.1/cumulo-web-image.img
if [ "${TEMPEST_GLANCE:-false}" = true ]; then
  mkdir -p "$WORK/www" && head -c 1048576 /dev/urandom > "$WORK/www/cumulo-web-image.img"
  python3 -m http.server 80 --bind 127.0.0.1 --directory "$WORK/www" > "$WORK/www.log" 2>&1 &
  WWW=$!
  trap 'kill $WWW 2>/dev/null || true; cleanup' EXIT
fi

# Compute tests need [compute] flavor_ref and flavor_ref_alt: a fresh Nova has no flavors.
if [ "${TEMPEST_NOVA:-false}" = true ]; then
  TOKEN=$(curl -si -H 'Content-Type: application/json' "http://127.0.0.1:$PORT/v3/auth/tokens" -d "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"admin\",\"domain\":{\"id\":\"default\"},\"password\":\"$PASSWORD\"}}},\"scope\":{\"project\":{\"name\":\"admin\",\"domain\":{\"id\":\"default\"}}}}}" \
    | awk 'tolower($1) == "x-subject-token:" { print $2 }' | tr -d '\r')
  for f in '"id":"1","name":"m1.tiny","ram":512,"vcpus":1,"disk":1' '"id":"2","name":"m1.small","ram":2048,"vcpus":1,"disk":20'; do
    curl -sf -o /dev/null -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
      "http://127.0.0.1:$((8774 + OFFSET))/v2.1/flavors" -d "{\"flavor\":{$f}}"
  done
  # [compute] image_ref and image_ref_alt: two public images (the fake driver never boots them).
  IMAGES=()
  for n in cumulo-tempest-1 cumulo-tempest-2; do
    ID=$(curl -sf -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' "http://127.0.0.1:$((9292 + OFFSET))/v2/images" \
      -d "{\"name\":\"$n\",\"disk_format\":\"qcow2\",\"container_format\":\"bare\",\"visibility\":\"public\"}" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    head -c 65536 /dev/urandom | curl -sf -o /dev/null -X PUT -H "X-Auth-Token: $TOKEN" \
      -H 'Content-Type: application/octet-stream' --data-binary @- "http://127.0.0.1:$((9292 + OFFSET))/v2/images/$ID/file"
    IMAGES+=("$ID")
  done
  IMAGE_REF=${IMAGES[0]}; IMAGE_REF_ALT=${IMAGES[1]}
fi

rm -rf "$WORK/ws"
# Tempest registers workspaces by name in ~/.tempest; use a unique one and drop it afterwards.
WSNAME=cumulo-$$-$RANDOM
tempest init --name "$WSNAME" "$WORK/ws" >/dev/null
cat > "$WORK/ws/etc/tempest.conf" <<CONF
[DEFAULT]
log_dir = $WORK/ws/logs
log_file = tempest.log

[auth]
use_dynamic_credentials = true
admin_username = admin
admin_password = $PASSWORD
admin_project_name = admin
admin_domain_name = Default
admin_user_domain_name = Default
admin_project_domain_name = Default
default_credentials_domain_name = Default
create_isolated_networks = false

[identity]
uri_v3 = http://127.0.0.1:$PORT/v3
auth_version = v3
region = RegionOne
v3_endpoint_type = public
admin_role = admin
default_domain_id = default
user_lockout_failure_attempts = 2
user_lockout_duration = 5
user_unique_last_password_count = 2
user_minimum_password_age = 0

[identity-feature-enabled]
api_v2 = false
api_v3 = true
trust = true
application_credentials = true
access_rules = true
project_tags = true
security_compliance = true
domain_specific_drivers = false

[service_available]
nova = ${TEMPEST_NOVA:-false}
glance = ${TEMPEST_GLANCE:-${TEMPEST_NOVA:-false}}
neutron = false
cinder = false
swift = ${TEMPEST_SWIFT:-false}
horizon = false

[object-storage]
catalog_type = object-store
endpoint_type = publicURL
operator_role = member
reseller_admin_role = ResellerAdmin
realm_name = cumulo
cluster_name = local

[object-storage-feature-enabled]
discoverability = true
container_sync = true
object_versioning = true

[image]
catalog_type = image
http_image = $HTTP_IMAGE
endpoint_type = publicURL

[image-feature-enabled]
api_v2 = true
api_v1 = false
import_image = true
os_glance_reserved = true
manage_locations = false

[compute]
catalog_type = compute
endpoint_type = publicURL
region = RegionOne
flavor_ref = 1
flavor_ref_alt = 2
image_ref = ${IMAGE_REF:-none}
image_ref_alt = ${IMAGE_REF_ALT:-none}
min_microversion = 2.1
max_microversion = 2.85
fixed_network_name =
build_timeout = 60

[compute-feature-enabled]
# What the compute service implements; the rest needs services not built yet (Neutron, Cinder)
# or Nova features Cumulo leaves out (migration, shelve, rescue, consoles, config drive).
console_output = true
pause = true
suspend = true
resize = true
snapshot = true
rebuild = true
interface_attach = false
live_migration = false
cold_migration = false
block_migration_for_live_migration = false
shelve = false
shelve_migrate = false
rescue = false
stable_rescue = false
change_password = false
vnc_console = false
spice_console = false
serial_console = false
metadata_service = false
config_drive = false
personality = false
attach_encrypted_volume = false
volume_multiattach = false
hostname_fqdn_sanitization = false
# The os-server metadata API tests are gated on this old name.
xenapi_apis = true

[network-feature-enabled]
# No network service yet (issue #5): no floating IPs to allocate or associate.
floating_ips = false

[validation]
run_validation = false

[oslo_concurrency]
lock_path = $WORK/ws/tempest_lock
CONF

cd "$WORK/ws"
set +e
tempest run --regex "$REGEX" --concurrency "$CONC" > "$WORK/tempest.out" 2>&1
set -e
stestr last --subunit > "$WORK/results.subunit" 2>/dev/null || true
subunit2csv < "$WORK/results.subunit" > "$WORK/results.csv" 2>/dev/null || true
tempest run --list-tests --regex "$REGEX" 2>/dev/null | grep '^tempest\.' > "$WORK/listed.txt" || true
python3 - "$WORK" <<'PY'
# Counts per test case: a test whose class failed in setUpClass counts as failed, one whose
# class was skipped (by configuration) as skipped, so the totals cover every listed test.
import csv, json, sys, re
work = sys.argv[1]
status, classes = {}, {}
with open(f'{work}/results.csv') as f:
    for row in csv.DictReader(f):
        t, st = row['test'], row['status']
        st = 'passed' if st in ('success', 'xfail') else 'skipped' if st == 'skip' else 'failed'
        m = re.match(r'^(setUpClass|tearDownClass) \((.+)\)$', t)
        if m:
            if m.group(1) == 'setUpClass' or st == 'failed':
                classes[m.group(2)] = st if m.group(1) == 'setUpClass' else classes.get(m.group(2), 'failed')
        else:
            status[re.sub(r'\[.*\]$', '', t)] = (st, t)
listed = [l.strip() for l in open(f'{work}/listed.txt') if l.strip()]
out = {'passed': 0, 'failed': 0, 'skipped': 0, 'failures': []}
for full in listed:
    name = re.sub(r'\[.*\]$', '', full)
    cls = name.rsplit('.', 1)[0]
    if name in status: st = status[name][0]
    elif cls in classes: st = classes[cls]
    else: st = 'failed'  # listed but never reported: the worker died
    out[st] += 1
    if st == 'failed': out['failures'].append(name)
out['failures'].sort()
json.dump(out, open(f'{work}/summary.json', 'w'), indent=1)
print(json.dumps(out))
PY

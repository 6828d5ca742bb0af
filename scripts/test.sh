#!/usr/bin/env bash
# `npm test`: the whole vitest suite against a real S3 server.
#
# Starts a throwaway Ceph RGW (scripts/rgw.sh) unless REGISTRY_TEST_S3_ENDPOINT is already set
# (for example to a MinIO you run yourself: then also set REGISTRY_TEST_S3_BUCKET, AWS_*),
# runs vitest with any arguments given, stops what it started, and ends with one line
# "N passed, N failed" taken from vitest's JSON report.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

REPORT=.test-services/vitest.json
mkdir -p .test-services
rm -f "$REPORT"

started_rgw=false
stop_services() {
  if $started_rgw; then
    started_rgw=false
    bash scripts/rgw.sh stop || echo "warning: scripts/rgw.sh stop failed" >&2
  fi
}
trap stop_services EXIT
trap 'exit 130' INT TERM

# The test services come from Debian packages: install what is missing (as root), or say how.
missing=()
for tool in radosgw ceph-mon ceph-osd skopeo docker-registry; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing the test services' packages: ${missing[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    echo "missing test services: ${missing[*]}; install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

if [[ -z "${REGISTRY_TEST_S3_ENDPOINT:-}" ]]; then
  started_rgw=true
  bash scripts/rgw.sh start
  eval "$(bash scripts/rgw.sh env)"
else
  echo "using the S3 server at $REGISTRY_TEST_S3_ENDPOINT (REGISTRY_TEST_S3_ENDPOINT is set)" >&2
fi

rc=0
npx vitest run --reporter=default --reporter=json --outputFile="$REPORT" "$@" || rc=$?

# Stop before the summary, so that the summary is the last line printed.
stop_services

if [[ ! -s "$REPORT" ]]; then
  echo "no test report at $REPORT (vitest exit code $rc)" >&2
  exit 1
fi
summary_rc=0
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  process.exitCode = r.numFailedTests > 0 || r.success === false ? 1 : 0;
' "$REPORT" || summary_rc=$?
((rc == 0)) || exit "$rc"
exit "$summary_rc"

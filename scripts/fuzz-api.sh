#!/usr/bin/env bash
# Schemathesis against the live OpenAPI of a freshly migrated lab, bounded in time, once with
# a staff token and once with a researcher's: any 500, or a status the schema does not
# document, fails. Usage: scripts/fuzz-api.sh [seconds per token, default 90]
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${1:-90}
BIN=.venv/bin
DATA=$(mktemp -d)
PORT=${AILAB_FUZZ_PORT:-8765}
export AILAB_DATA_DIR="$DATA" AILAB_DEBUG=1 AILAB_EMAIL_BACKEND=locmem
cleanup() { [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$DATA"; }
trap cleanup EXIT
$BIN/ailab manage migrate --no-input -v 0
$BIN/ailab manage shell -c "
from ailab.accounts import services
staff = services.user_create(email='staff@fuzz.example', password='pw-123456-test', is_staff=True)
researcher = services.user_create(email='researcher@fuzz.example', password='pw-123456-test')
open('$DATA/staff', 'w').write(services.token_create(actor=staff, name='fuzz').raw)
open('$DATA/researcher', 'w').write(services.token_create(actor=researcher, name='fuzz').raw)
" >/dev/null
$BIN/ailab manage runserver "127.0.0.1:$PORT" --noreload >"$DATA/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 60); do curl -fs "http://127.0.0.1:$PORT/api/v1/openapi.json" >/dev/null && break; sleep 1; done
status=0
for who in staff researcher; do
  echo "fuzz: as $who for ${BUDGET}s"
  # Revoking the fuzzer's own token would turn the rest of the run into 401s.
  $BIN/st run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
    -H "Authorization: Bearer $(cat "$DATA/$who")" \
    -c not_a_server_error,status_code_conformance --phases fuzzing -n 20 -w 1 \
    --max-time "$BUDGET" --suppress-health-check all --seed 20261201 \
    --exclude-path-regex 'tokens/\{token_id\}' || status=1
done
if grep -E '" 5[0-9][0-9] ' "$DATA/server.log"; then echo "fuzz: the server answered 5xx" >&2; status=1; fi
exit $status

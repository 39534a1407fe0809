#!/usr/bin/env bash
# Runs postman_collection.json with newman against a freshly started hopla: uvicorn + an RQ worker,
# on a new PostgreSQL database and Redis db 14 (POSTMAN_DATABASE, POSTMAN_REDIS_DB, POSTMAN_PORT to run
# beside another copy), images on local disk. Called by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

NEWMAN_VERSION=6.2.2
DATABASE=${POSTMAN_DATABASE:-hopla_postman}
REDIS_DB=${POSTMAN_REDIS_DB:-14}
PORT=${POSTMAN_PORT:-8765}
WORK=$(mktemp -d)
export DJANGO_SETTINGS_MODULE=hopla.settings.local DEBUG=false LOG_LEVEL=WARNING
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DATABASE
export REDIS_URL=redis://127.0.0.1:6379/$REDIS_DB
export MEDIA_ROOT=$WORK/media IMAGE_RETRY_INTERVALS=1,2
# The collection's webhook receiver is this server's own http://127.0.0.1 address.
export WEBHOOK_ALLOW_HTTP=true WEBHOOK_ALLOWED_NETWORKS=127.0.0.1/32

if [ ! -x .newman/node_modules/.bin/newman ]; then
  npm install --silent --no-audit --no-fund --prefix .newman "newman@$NEWMAN_VERSION" >/dev/null
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  dropdb -h 127.0.0.1 -U postgres --if-exists "$DATABASE"
  rm -rf "$WORK"
}
trap cleanup EXIT

dropdb -h 127.0.0.1 -U postgres --if-exists "$DATABASE"
createdb -h 127.0.0.1 -U postgres "$DATABASE"
redis-cli -n "$REDIS_DB" flushdb >/dev/null
.venv/bin/python manage.py migrate --noinput -v 0

.venv/bin/uvicorn hopla.asgi:application --host 127.0.0.1 --port "$PORT" --log-level warning >"$WORK/web.log" 2>&1 &
pids+=($!)
.venv/bin/python manage.py rqworker default --with-scheduler --worker-class hopla.worker.PeriodicTasksWorker \
  >"$WORK/worker.log" 2>&1 &
pids+=($!)

for _ in $(seq 60); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  sleep 0.5
done

if ! .newman/node_modules/.bin/newman run postman_collection.json --working-dir . \
  --env-var "baseUrl=http://127.0.0.1:$PORT" --color off --reporters cli; then
  echo "--- web log ---"; tail -50 "$WORK/web.log"
  echo "--- worker log ---"; tail -50 "$WORK/worker.log"
  exit 1
fi

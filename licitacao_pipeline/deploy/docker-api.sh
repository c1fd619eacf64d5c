#!/bin/sh
# Entrypoint of docker-compose.yml's docker-api service: Caddy with docker-api.Caddyfile. When
# the service is stopped (`docker compose down` or `stop`: compose stops it before the
# database), it first stops this project's run containers (label licitacao/projeto, set by the
# code service's DAGSTER_CONTAINER_CONTEXT) and waits for them: their runs end while the
# database is still there and write what they finished.
set -u
api=http://127.0.0.1:2376
caddy run --config /etc/caddy/Caddyfile --adapter caddyfile &
caddy_pid=$!
stopping=0
trap 'stopping=1' TERM INT
wait "$caddy_pid"
status=$?
[ "$stopping" = 1 ] || exit "$status"

# {"label":["licitacao/projeto=NAME"]}, URL-encoded (a compose project name needs no escaping)
filter="%7B%22label%22%3A%5B%22licitacao%2Fprojeto%3D${LICITACAO_PROJETO:?}%22%5D%7D"
ids=$(wget -q -O - "$api/containers/json?filters=$filter" | grep -o '"Id":"[0-9a-f]*"' | cut -d'"' -f4)
pids=""
for id in $ids; do
  echo "docker-api: parando o container do run $id"
  wget -q -O /dev/null --post-data= "$api/containers/$id/stop?t=30" &
  pids="$pids $!"
done
for pid in $pids; do wait "$pid"; done
kill -TERM "$caddy_pid" 2>/dev/null
wait "$caddy_pid"
exit 0

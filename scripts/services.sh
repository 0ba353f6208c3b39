#!/usr/bin/env bash
# Make sure the backing services talkrate needs locally are up: PostgreSQL and Redis.
# Uses configured ones when TALKS_CONNECTION / RATINGS_CONNECTION point elsewhere; otherwise
# checks 127.0.0.1:5432 and :6379 and starts the machine's own servers if they are installed.
set -euo pipefail

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 50); do listening "$port" && return 0; sleep 0.2; done
  echo "services: $name did not come up on 127.0.0.1:$port" >&2
  return 1
}

if [[ -z "${TALKS_CONNECTION:-}" ]] && ! listening 5432; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    wait_for 5432 PostgreSQL
  else
    echo "services: no PostgreSQL on 127.0.0.1:5432; set TALKS_CONNECTION" >&2
    exit 1
  fi
fi

if [[ -z "${RATINGS_CONNECTION:-}" ]] && ! listening 6379; then
  if command -v redis-server >/dev/null; then
    echo "services: starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/talkrate-redis.log
    wait_for 6379 Redis
  else
    echo "services: no Redis on 127.0.0.1:6379; set RATINGS_CONNECTION" >&2
    exit 1
  fi
fi

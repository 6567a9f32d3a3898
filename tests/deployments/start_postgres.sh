# Source me (bash): install and start PostgreSQL from Debian packages, create an empty database
# for the e2e test's PostgreSQL variant, and export CASEY_FLOWS_TEST_PG_URL. Idempotent.
# Used by .ci/run; on a developer machine: `source tests/deployments/start_postgres.sh`.
_casey_pg_setup() {
  local sudo="" version port db="casey_flows_e2e" role="casey_flows"
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  fi
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    $sudo pg_createcluster "$version" main >/dev/null
  fi
  if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
    $sudo pg_ctlcluster "$version" main start
  fi
  port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')
  _casey_psql() {
    local cmd="PGOPTIONS='-c client_min_messages=warning' psql -p $port -v ON_ERROR_STOP=1 -qtAc \"$1\""
    if [ -n "$sudo" ]; then sudo -u postgres sh -c "$cmd"; else su postgres -c "$cmd"; fi
  }
  if [ "$(_casey_psql "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != "1" ]; then
    _casey_psql "CREATE ROLE $role LOGIN PASSWORD '$role'"
  fi
  _casey_psql "DROP DATABASE IF EXISTS $db" >/dev/null
  _casey_psql "CREATE DATABASE $db OWNER $role" >/dev/null
  export CASEY_FLOWS_TEST_PG_URL="postgresql+asyncpg://$role:$role@127.0.0.1:$port/$db"
  echo "PostgreSQL $version on port $port: database $db ready"
  unset -f _casey_psql
}
_casey_pg_setup
unset -f _casey_pg_setup

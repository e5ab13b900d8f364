#!/usr/bin/env bash
# ci/postgres.sh starts a throwaway PostgreSQL server on loopback for podid's
# tests and prints the DSN for them:
#
#   eval "$(ci/postgres.sh)"        # sets TEST_POSTGRES_DSN
#   go test ./...
#
# Usage: ci/postgres.sh [DATADIR]   (default /tmp/podid-postgres)
#        ci/postgres.sh --stop [DATADIR]
#        ci/postgres.sh --crash [DATADIR]   (stop without a shutdown, as a
#                                            crash would: pg_ctl -m immediate)
#
# It installs PostgreSQL from Debian packages when no server binaries are
# found, creates a cluster in DATADIR (initdb, as the postgres user when run as
# root: the server refuses to run as root), starts it on 127.0.0.1 and port
# $PODID_PG_PORT (default 25432), creates the role and database "podid", and
# waits (bounded) until the server answers. It is idempotent: run again, it
# finds the running server and prints the same line.
#
# Only the export line goes to stdout; progress goes to stderr.
set -euo pipefail

# Below the kernel's ephemeral range (32768-60999 by default), so a client
# socket elsewhere on the machine cannot be holding the port.
port=${PODID_PG_PORT:-25432}
stop=0
mode=fast
if [[ ${1:-} == --stop || ${1:-} == --crash ]]; then
	stop=1
	if [[ $1 == --crash ]]; then
		mode=immediate
	fi
	shift
fi
data=${1:-/tmp/podid-postgres}
role=podid
password=podid
db=podid

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [[ -n $d && -x $d/initdb ]]; then
		echo "$d"
	fi
}

bin=$(find_bin)
if [[ -z $bin ]]; then
	if [[ $stop == 1 ]]; then
		exit 0
	fi
	log "installing PostgreSQL from Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y postgresql >&2
	bin=$(find_bin)
	if [[ -z $bin ]]; then
		log "no initdb under /usr/lib/postgresql/*/bin after installing postgresql"
		exit 1
	fi
fi

# as_owner runs a command as the cluster's owner: the postgres user when we
# are root, else ourselves.
owner=$(id -un)
if [[ $(id -u) == 0 ]]; then
	owner=postgres
	if ! id postgres >/dev/null 2>&1; then
		log "running as root but there is no postgres user to own the cluster"
		exit 1
	fi
fi
as_owner() {
	if [[ $(id -un) == "$owner" ]]; then
		"$@"
	else
		runuser -u "$owner" -- "$@"
	fi
}

if [[ $stop == 1 ]]; then
	if [[ -f $data/PG_VERSION ]] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		as_owner "$bin/pg_ctl" -D "$data" -m "$mode" -w -t 60 stop >&2
	fi
	exit 0
fi

if [[ ! -f $data/PG_VERSION ]]; then
	log "creating a cluster in $data"
	mkdir -p "$data"
	chown "$owner" "$data"
	chmod 700 "$data"
	# Local (socket) connections trust the OS user; TCP connections need
	# a password (scram-sha-256), as a real deployment would.
	pwfile=$(mktemp)
	echo "$password" >"$pwfile"
	chown "$owner" "$pwfile"
	as_owner "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile" >&2
	rm -f "$pwfile"
fi

# The socket lives in the data directory so no shared /var/run directory is
# needed; the port is dedicated so a system server on 5432 does not matter.
psql_owner() {
	as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$data" -p "$port" -U postgres -d postgres "$@"
}

if as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
	log "already running in $data"
	# It may have been started with another port: use the one it has
	# (line 4 of postmaster.pid).
	running_port=$(sed -n 4p "$data/postmaster.pid" 2>/dev/null || true)
	if [[ $running_port =~ ^[0-9]+$ ]]; then
		port=$running_port
	fi
else
	log "starting on 127.0.0.1:$port"
	started=0
	for attempt in 1 2 3; do
		if as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start \
			-o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=300" >&2; then
			started=1
			break
		fi
		log "start attempt $attempt failed; log follows"
		tail -n 5 "$data/server.log" >&2 || true
		sleep 2
	done
	if [[ $started != 1 ]]; then
		exit 1
	fi
fi

ready=0
for _ in $(seq 1 60); do
	if as_owner "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
		ready=1
		break
	fi
	sleep 0.5
done
if [[ $ready != 1 ]]; then
	log "server did not become ready within 30s; log follows"
	tail -n 50 "$data/server.log" >&2 || true
	exit 1
fi

if [[ -z $(psql_owner -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$role'") ]]; then
	psql_owner -c "CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password'"
fi
if [[ -z $(psql_owner -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'") ]]; then
	psql_owner -c "CREATE DATABASE $db OWNER $role"
fi

echo "export TEST_POSTGRES_DSN='postgres://$role:$password@127.0.0.1:$port/$db?sslmode=disable'"

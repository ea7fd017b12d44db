#!/bin/sh
# nsd-command.sh ADDR ZONESDIR DIR serves every ORIGIN.zone file in ZONESDIR
# with NSD on ADDR (host:port), writing its own files to DIR: the contract
# lab.Command and dnsbench -server expect of a server, met by NSD, so the
# tests can check that path without our own service.
set -eu
addr=$1 zonesdir=$2 dir=$3
host=${addr%:*} port=${addr##*:}
nsd=$(command -v nsd || echo /usr/sbin/nsd)
conf=$dir/command-nsd.conf
{
	echo "server:"
	echo "  ip-address: $host@$port"
	echo "  port: $port"
	echo "  server-count: 1"
	echo '  username: ""'
	echo '  chroot: ""'
	echo "  zonesdir: \"$dir\""
	echo '  database: ""'
	# No logfile: NSD then logs to stderr, which the lab keeps in output.log
	# and reads to tell a port clash (retried) from a real failure.
	for f in zonelistfile:zone.list xfrdfile:xfrd.state pidfile:nsd.pid; do
		echo "  ${f%%:*}: \"$dir/${f#*:}\""
	done
	echo "  xfrdir: \"$dir\""
	echo "  rrl-ratelimit: 0"
	# No control port: NSD's default (::1 port 8952) clashes with every
	# other NSD the tests run at the same time.
	echo "remote-control:"
	echo "  control-enable: no"
	for f in "$zonesdir"/*.zone; do
		name=$(basename "$f" .zone)
		if [ "$name" = root ]; then name=.; fi
		echo "zone:"
		echo "  name: \"$name\""
		echo "  zonefile: \"$f\""
	done
} >"$conf"
exec "$nsd" -d -c "$conf"

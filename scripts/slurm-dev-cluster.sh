#!/usr/bin/env bash
# A one-node Slurm development cluster on loopback, for ailab's Slurm backend and its tests.
#
#   scripts/slurm-dev-cluster.sh start    # idempotent: installs what is missing, configures, starts
#   scripts/slurm-dev-cluster.sh stop     # stops the Slurm daemons (and munge, if we started it)
#   scripts/slurm-dev-cluster.sh status   # exit 0 only when the node is usable and sacctmgr answers
#   scripts/slurm-dev-cluster.sh reset    # drop the accounting database and saved state; start
#
# What it sets up (Debian 12, Slurm 22.05, run as root; works without systemd, e.g. in CI):
# munge, slurmdbd (MariaDB at 127.0.0.1, its own database and user), slurmctld and slurmd,
# ONE node "ailab0" with the machine's real CPUs and memory (from `slurmd -C`) and 8 GPUs
# declared as GRES. The GPUs are character-device copies of /dev/null (mknod c 1 3): a GRES
# declared by count only drains the node in 22.05 ("count reported lower than configured").
# Also a lab root account "ailab", three Unix users for test members (ailab-alice,
# ailab-bob, ailab-carol; ailab tests give them POSIX accounts with these uids), and a
# job_submit.lua that gives jobs of accounts named gpugift* two GPUs whatever they ask. All state, config and logs live under $AILAB_SLURM_DIR
# (default /var/lib/ailab-slurm); /etc/slurm/slurm.conf is a symlink to the config there so
# that plain `sbatch`, `squeue`, `sacctmgr` find the cluster without SLURM_CONF.
set -euo pipefail

DIR=${AILAB_SLURM_DIR:-/var/lib/ailab-slurm}
CLUSTER=${AILAB_SLURM_CLUSTER:-ailab}
NODE=ailab0
ROOT_ACCOUNT=${AILAB_SLURM_ROOT_ACCOUNT:-ailab}
TEST_USERS=(ailab-alice ailab-bob ailab-carol)
DB_NAME=slurm_acct_ailab
DB_USER=ailab_slurm
DB_PASS=${AILAB_SLURM_DB_PASSWORD:-ailab_slurm_dev}
# How to reach MariaDB as an administrator (to create the accounting database and user):
# AILAB_SLURM_DB_ADMIN, else root over TCP without a password, else root over the socket
# (a freshly installed Debian MariaDB authenticates root by unix_socket).
DB_ADMIN=()
ETC=$DIR/etc
RUN=$DIR/run
LOG=$DIR/log
export SLURM_CONF=$ETC/slurm.conf

say() { echo "slurm-dev-cluster: $*" >&2; }
die() {
	say "ERROR: $*"
	exit 1
}

need_root() { [[ $(id -u) == 0 ]] || die "run me as root (I install packages and start daemons)"; }

alive() { # alive PIDFILE -> 0 if the process in it runs
	[[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

wait_for() { # wait_for SECONDS DESCRIPTION CMD...
	local limit=$1 what=$2 i
	shift 2
	for ((i = 0; i < limit * 5; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	say "timed out after ${limit}s waiting for $what"
	return 1
}

db_answers() { mysqladmin -h127.0.0.1 -P3306 ping >/dev/null 2>&1; }

choose_db_admin() {
	local candidate
	local -a argv
	for candidate in "${AILAB_SLURM_DB_ADMIN:-}" "mysql -h127.0.0.1 -P3306 -uroot" "mysql -uroot"; do
		[[ -n $candidate ]] || continue
		read -r -a argv <<<"$candidate"
		if "${argv[@]}" -e 'select 1' >/dev/null 2>&1; then
			DB_ADMIN=("${argv[@]}")
			return 0
		fi
	done
	die "cannot reach MariaDB as an administrator; set AILAB_SLURM_DB_ADMIN (e.g. 'mysql -uroot -psecret')"
}

install_packages() {
	local missing=()
	command -v slurmctld >/dev/null || missing+=(slurm-wlm)
	command -v slurmdbd >/dev/null || missing+=(slurmdbd)
	command -v munged >/dev/null || missing+=(munge)
	command -v mysql >/dev/null || missing+=(mariadb-client)
	if ! db_answers && ! command -v mariadbd >/dev/null; then missing+=(mariadb-server); fi
	((${#missing[@]} == 0)) && return 0
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	# policy-rc.d in containers refuses to start services at install: fine, we start them.
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

start_mariadb() {
	db_answers && return 0
	say "starting MariaDB"
	mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
	if [[ -x /etc/init.d/mariadb ]]; then
		/etc/init.d/mariadb start >/dev/null 2>&1 || true
	fi
	if ! db_answers; then
		(setsid mysqld_safe >/dev/null 2>&1 &)
	fi
	wait_for 60 "MariaDB at 127.0.0.1:3306" db_answers || die "MariaDB does not answer"
}

setup_database() {
	"${DB_ADMIN[@]}" <<-SQL
		CREATE DATABASE IF NOT EXISTS \`$DB_NAME\`;
		CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
		CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
		GRANT ALL ON \`$DB_NAME\`.* TO '$DB_USER'@'localhost';
		GRANT ALL ON \`$DB_NAME\`.* TO '$DB_USER'@'127.0.0.1';
	SQL
}

munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
	munge_works && return 0
	say "starting munge"
	if [[ ! -s /etc/munge/munge.key ]]; then
		mkdir -p /etc/munge
		dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
	fi
	chown munge:munge /etc/munge /etc/munge/munge.key
	chmod 0700 /etc/munge
	chmod 0400 /etc/munge/munge.key
	mkdir -p /run/munge /var/log/munge /var/lib/munge
	chown munge:munge /run/munge /var/log/munge /var/lib/munge
	runuser -u munge -- /usr/sbin/munged --force
	touch "$RUN/munge.ours"
	wait_for 10 munge munge_works || die "munge does not work (see /var/log/munge/munged.log)"
}

write_config() {
	local host hw gres_files i
	host=$(hostname -s)
	# The node's real hardware: declaring more than it has drains the node.
	hw=$(slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]* //')
	mkdir -p "$ETC" "$RUN" "$LOG" "$DIR/state/ctld" "$DIR/state/d" "$DIR/dev" "$DIR/jobs"
	chmod 0755 "$DIR" "$DIR/jobs"
	for i in 0 1 2 3 4 5 6 7; do
		[[ -c $DIR/dev/nvidia$i ]] || mknod -m 0666 "$DIR/dev/nvidia$i" c 1 3
	done
	gres_files="$DIR/dev/nvidia[0-7]"
	cat >"$ETC/slurm.conf.new" <<-CONF
		# Generated by scripts/slurm-dev-cluster.sh; edits are overwritten at the next start.
		ClusterName=$CLUSTER
		SlurmctldHost=$host(127.0.0.1)
		SlurmUser=root
		SlurmdUser=root
		AuthType=auth/munge
		CryptoType=crypto/munge
		SlurmctldPort=6817
		SlurmdPort=6818
		StateSaveLocation=$DIR/state/ctld
		SlurmdSpoolDir=$DIR/state/d
		SlurmctldPidFile=$RUN/slurmctld.pid
		SlurmdPidFile=$RUN/slurmd.pid
		SlurmctldLogFile=$LOG/slurmctld.log
		SlurmdLogFile=$LOG/slurmd.log
		SlurmctldDebug=info
		SlurmdDebug=info
		# No cgroups in a container: plain process tracking, no task binding.
		ProctrackType=proctrack/linuxproc
		TaskPlugin=task/none
		JobAcctGatherType=jobacct_gather/linux
		JobAcctGatherFrequency=30
		MpiDefault=none
		SwitchType=switch/none
		SelectType=select/cons_tres
		SelectTypeParameters=CR_CPU_Memory
		GresTypes=gpu
		DefMemPerCPU=1024
		SchedulerType=sched/backfill
		SchedulerParameters=sched_min_interval=0
		PriorityType=priority/multifactor
		PriorityWeightFairshare=10000
		PriorityWeightAge=100
		# No decay: GrpTRESMins compares against decayed usage, and a budget must not leak.
		PriorityDecayHalfLife=0
		PriorityUsageResetPeriod=NONE
		AccountingStorageType=accounting_storage/slurmdbd
		AccountingStorageHost=127.0.0.1
		AccountingStorageTRES=gres/gpu
		AccountingStorageEnforce=associations,limits,qos,safe
		AccountingStoreFlags=job_comment
		JobCompType=jobcomp/none
		# A site policy stand-in (job_submit.lua beside this file): see write_config.
		JobSubmitPlugins=lua
		ReturnToService=2
		MinJobAge=600
		KillWait=5
		InactiveLimit=0
		Waittime=0
		SlurmctldTimeout=30
		SlurmdTimeout=60
		NodeName=$NODE NodeHostname=$host NodeAddr=127.0.0.1 $hw Gres=gpu:8 State=UNKNOWN
		PartitionName=gpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
	CONF
	echo "NodeName=$NODE Name=gpu File=$gres_files" >"$ETC/gres.conf.new"
	# Sites' job_submit plugins change requests (a default GPU, a QOS). This one gives every
	# job of an account named gpugift* two GPUs whatever it asked for, so that tests can
	# check that ailab charges what Slurm allocated (AllocTRES), never the request.
	cat >"$ETC/job_submit.lua.new" <<-'LUA'
		-- Generated by scripts/slurm-dev-cluster.sh; edits are overwritten at the next start.
		function slurm_job_submit(job_desc, part_list, submit_uid)
			local account = job_desc.account
			if account ~= nil and string.sub(account, 1, 7) == "gpugift" then
				job_desc.tres_per_node = "gres:gpu:2"
			end
			return slurm.SUCCESS
		end

		function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
			return slurm.SUCCESS
		end
	LUA
	cat >"$ETC/slurmdbd.conf.new" <<-CONF
		# Generated by scripts/slurm-dev-cluster.sh
		AuthType=auth/munge
		DbdHost=localhost
		DbdAddr=127.0.0.1
		DbdPort=6819
		SlurmUser=root
		LogFile=$LOG/slurmdbd.log
		PidFile=$RUN/slurmdbd.pid
		StorageType=accounting_storage/mysql
		StorageHost=127.0.0.1
		StoragePort=3306
		StorageUser=$DB_USER
		StoragePass=$DB_PASS
		StorageLoc=$DB_NAME
	CONF
	CHANGED=0 CHANGED_DBD=0
	local f
	for f in slurm.conf gres.conf job_submit.lua slurmdbd.conf; do
		if ! cmp -s "$ETC/$f.new" "$ETC/$f"; then
			mv "$ETC/$f.new" "$ETC/$f"
			if [[ $f == slurmdbd.conf ]]; then CHANGED_DBD=1; else CHANGED=1; fi
		else
			rm -f "$ETC/$f.new"
		fi
	done
	chmod 0644 "$ETC/slurm.conf" "$ETC/gres.conf" "$ETC/job_submit.lua"
	chmod 0600 "$ETC/slurmdbd.conf"
	# Client commands read /etc/slurm/slurm.conf; point it here (never over a foreign one).
	mkdir -p /etc/slurm
	local f target
	for f in slurm.conf gres.conf job_submit.lua slurmdbd.conf; do
		target=/etc/slurm/$f
		if [[ -e $target && ! -L $target ]]; then
			die "$target exists and is not ours; move it away or set SLURM_CONF=$ETC/slurm.conf"
		fi
		ln -sfn "$ETC/$f" "$target"
	done
}

dbd_answers() { timeout 5 sacctmgr -n -P show cluster format=cluster; }

start_slurmdbd() {
	if alive "$RUN/slurmdbd.pid" && dbd_answers >/dev/null 2>&1; then
		((CHANGED_DBD)) || return 0
		say "restarting slurmdbd (config changed)"
		stop_pidfile slurmdbd
	fi
	say "starting slurmdbd"
	slurmdbd
	wait_for 60 "slurmdbd to answer sacctmgr" dbd_answers ||
		die "slurmdbd does not answer; see $LOG/slurmdbd.log"
}

setup_accounts() {
	if ! sacctmgr -n -P show cluster format=cluster | grep -qx "$CLUSTER"; then
		sacctmgr -i add cluster "$CLUSTER" >/dev/null
	fi
	if ! sacctmgr -n -P show account "$ROOT_ACCOUNT" format=account | grep -qx "$ROOT_ACCOUNT"; then
		sacctmgr -i add account "$ROOT_ACCOUNT" cluster="$CLUSTER" \
			description="ailab lab root" organization=ailab >/dev/null
	fi
	local u
	for u in "${TEST_USERS[@]}"; do
		id -u "$u" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$u"
	done
}

ctld_answers() { timeout 10 scontrol ping | grep -q 'UP'; }

start_slurmctld() {
	if alive "$RUN/slurmctld.pid" && ctld_answers; then
		if ((CHANGED)); then
			say "reconfiguring slurmctld (config changed)"
			scontrol reconfigure
		fi
		return 0
	fi
	say "starting slurmctld"
	slurmctld
	wait_for 60 "slurmctld to answer" ctld_answers || die "slurmctld does not answer; see $LOG/slurmctld.log"
}

node_state() { timeout 5 sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -1; }

node_usable() {
	case "$(node_state)" in
	idle | mixed | allocated | completing) return 0 ;;
	*) return 1 ;;
	esac
}

start_slurmd() {
	if ! alive "$RUN/slurmd.pid"; then
		say "starting slurmd"
		slurmd -N "$NODE"
	elif ((CHANGED)); then
		say "restarting slurmd (config changed)"
		stop_pidfile slurmd
		slurmd -N "$NODE"
	fi
	local i state
	for ((i = 0; i < 150; i++)); do
		state=$(node_state || true)
		case "$state" in
		idle | mixed | allocated | completing) return 0 ;;
		*drain* | *down* | *fail*)
			# A stale drain from an earlier run (a reboot, a changed config): resume it.
			scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
			;;
		esac
		sleep 0.2
	done
	scontrol show node "$NODE" >&2 || true
	die "node $NODE is not usable (state: ${state:-none}); see $LOG/slurmd.log"
}

cmd_start() {
	need_root
	local t0=$SECONDS
	install_packages
	mkdir -p "$DIR" "$RUN" "$LOG"
	start_mariadb
	choose_db_admin
	setup_database
	start_munge
	write_config
	start_slurmdbd
	setup_accounts
	start_slurmctld
	start_slurmd
	dbd_answers >/dev/null 2>&1 ||
		die "slurmdbd stopped answering once slurmctld registered (a corrupt account tree?);" \
			"see $LOG/slurmdbd.log; \`$0 reset\` starts from a clean database"
	say "up in $((SECONDS - t0))s: cluster $CLUSTER, node $NODE with 8 GPUs, root account $ROOT_ACCOUNT"
}

stop_pidfile() { # stop_pidfile NAME
	local pidfile=$RUN/$1.pid pid i
	alive "$pidfile" || return 0
	pid=$(cat "$pidfile")
	kill "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

cmd_stop() {
	need_root
	stop_pidfile slurmd
	stop_pidfile slurmctld
	stop_pidfile slurmdbd
	if [[ -e $RUN/munge.ours && -s /run/munge/munged.pid ]]; then
		kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
		rm -f "$RUN/munge.ours"
	fi
	say "stopped"
}

cmd_status() {
	local ok=0 state
	state=$(node_state || true)
	if [[ $state =~ ^(idle|mixed|allocated|completing)$ ]]; then
		echo "node $NODE: $state"
	else
		echo "node $NODE: ${state:-no answer from slurmctld}"
		ok=1
	fi
	if dbd_answers >/dev/null 2>&1; then
		echo "sacctmgr: answers (slurmdbd up)"
	else
		echo "sacctmgr: no answer (slurmdbd down)"
		ok=1
	fi
	return $ok
}

cmd_reset() {
	# A clean slate: the accounting database and Slurm's saved state go, then a fresh start.
	need_root
	cmd_stop
	choose_db_admin
	"${DB_ADMIN[@]}" -e "DROP DATABASE IF EXISTS \`$DB_NAME\`" || true
	rm -rf "$DIR/state"
	cmd_start
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
restart)
	cmd_stop
	cmd_start
	;;
reset) cmd_reset ;;
*)
	echo "usage: $0 start|stop|status|restart|reset" >&2
	exit 2
	;;
esac

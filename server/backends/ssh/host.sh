#!/bin/sh
# The lab-host side of podlab's ssh backend, installed as ~/.podlab/podlab-host.sh (with podlab.bashrc
# and tmux.conf) by the gateway whenever it connects. One tmux server of podlab's own (socket
# "podlab") holds one session per terminal, podlab-<student>-<term>, so a shell outlives the gateway:
# a restarted gateway attaches to it again.
#
#   podlab-host.sh attach SESSION NONCE TERM COLS ROWS
#       On the gateway's ssh connection: attach tmux in control mode, creating the session if needed.
#   podlab-host.sh shell SESSION
#       The session's pane: runs the interactive shell, then reports its exit status.
#   podlab-host.sh signal SESSION SIGNAL
#       Signal the foreground job of SESSION, never the shell (run by tmux, for the gateway).
#   podlab-host.sh pending SESSION
#       Store in SESSION's option @podlab-pending how many bytes of input wait in its pane's terminal
#       for the program to read (run by tmux, for the gateway, which types more once it is 0).
#   podlab-host.sh end PATTERN
#       Kill every session whose name matches PATTERN, a shell pattern: one terminal, or
#       podlab-<student>-* for all of one student's.
#
# Files in ~/.podlab/sessions, per session: .nonce (the attached gateway's nonce), .shell (the
# shell's pid, written by podlab.bashrc), .exit (the shell's exit status, once it has exited).
set -u

dir="$HOME/.podlab"
state="$dir/sessions"
# The private key that podlab.bashrc binds to "a gateway reattached" (\e[9998~), as tmux hex keys.
REATTACH_KEY='1b 5b 39 39 39 38 7e'
export LANG="${LANG:-C.UTF-8}"

podlab_tmux() {
	tmux -u -L podlab -f "$dir/tmux.conf" "$@"
}

has_session() {
	podlab_tmux has-session -t "=$1" 2>/dev/null
}

# The foreground process group of PID's terminal (field 8 of /proc/PID/stat, counted after the
# command name, which may itself hold spaces and parentheses).
foreground_group() {
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	# shellcheck disable=SC2086 # split the fields on purpose
	set -- ${stat##*) }
	echo "$6"
}

# Succeeds when SESSION's shell is at its prompt: it is the foreground process group of its terminal.
shell_is_idle() {
	shell=$(cat "$state/$1.shell" 2>/dev/null) || return 1
	[ -n "$shell" ] && [ "$(foreground_group "$shell")" = "$shell" ]
}

attach() {
	session=$1 nonce=$2 term=$3 cols=$4 rows=$5
	# The nonce file is how a shell older than this gateway learns the new nonce (see podlab.bashrc).
	if ! (umask 077 && printf '%s\n' "$nonce" > "$state/$session.nonce.$$" && mv -f "$state/$session.nonce.$$" "$state/$session.nonce"); then
		echo "podlab: cannot write $state/$session.nonce on $(hostname)" >&2
		exit 1
	fi
	# A shell that exited while no gateway was attached: its session only waits to be ended.
	if [ -e "$state/$session.exit" ]; then
		podlab_tmux kill-session -t "=$session" 2>/dev/null
		rm -f "$state/$session.exit" "$state/$session.shell"
	fi
	if has_session "$session"; then
		# The browser lost the output with the old gateway: after attaching, tmux replies with the
		# cursor, then the screen and its history, which the gateway replays.
		set -- attach-session -t "=$session" \; refresh-client -C "${cols}x${rows}" \
			\; display-message -p -t "=$session:" 'podlab-cursor #{cursor_x} #{cursor_y} #{pane_height}' \
			\; capture-pane -p -e -J -S - -E - -t "=$session:"
		if shell_is_idle "$session"; then
			# At its prompt: the reattach key makes the shell announce it to the gateway.
			# shellcheck disable=SC2086 # one hex byte per argument
			set -- "$@" \; send-keys -t "=$session:" -H $REATTACH_KEY
		else
			# A command is running: the gateway must know it is busy; the prompt markers come later.
			echo '%podlab-busy'
		fi
	else
		set -- new-session -A -s "$session" -x "$cols" -y "$rows" \
			-e PODLAB=1 -e "PODLAB_TERM=$term" -e "PODLAB_SESSION=$session" -e COLORTERM=truecolor \
			"exec sh \"\$HOME/.podlab/podlab-host.sh\" shell $session" \
			\; refresh-client -C "${cols}x${rows}"
	fi
	podlab_tmux -C "$@"

	# Tidying up comes first: the gateway may be gone, and a word to it would then end this script.

	if [ -e "$state/$session.exit" ]; then
		# The shell exited and its status went to the gateway (see `shell`), which then detached us.
		podlab_tmux kill-session -t "=$session" 2>/dev/null
		rm -f "$state/$session.exit" "$state/$session.shell" "$state/$session.nonce"
	elif has_session "$session"; then
		echo "podlab: this terminal was detached from its tmux session; open it again to reattach."
	else
		echo "podlab: this terminal was ended on the lab host."
	fi
}

shell() {
	session=$1
	bash --rcfile "$dir/podlab.bashrc" -i
	status=$?
	printf '%s\n' "$status" > "$state/$session.exit"
	read -r nonce < "$state/$session.nonce" || nonce=
	# The shell's exit status, after every byte it wrote, in the pane's own output. The pane stays
	# until the gateway has read it all and detached (tmux drops what a control client has not read
	# yet when a pane closes); attach then ends the session.
	printf '\033]133;Z;%s;nonce=%s\007' "$status" "$nonce"
	exec sleep infinity
}

signal() {
	session=$1 signal=$2
	shell=$(cat "$state/$session.shell" 2>/dev/null) || return 0
	group=$(foreground_group "$shell") || return 0
	if [ -n "$group" ] && [ "$group" -gt 0 ] && [ "$group" != "$shell" ]; then
		kill -s "$signal" -- "-$group" 2>/dev/null
	fi
	return 0
}

pending() {
	session=$1
	tty=$(podlab_tmux display-message -p -t "=$session:" '#{pane_tty}' 2>/dev/null)
	# FIONREAD (0x541B) on the pane's terminal, opened without becoming anyone's controlling terminal.
	count=$(perl -e 'use Fcntl; sysopen(my $tty, $ARGV[0], O_RDONLY | O_NOCTTY | O_NONBLOCK) or exit 1;
		my $count = pack("i", 0); ioctl($tty, 0x541B, $count) or exit 1; print unpack("i", $count)' "$tty" 2>/dev/null) || count=0
	podlab_tmux set-option -t "=$session:" @podlab-pending "${count:-0}" 2>/dev/null
	return 0
}

end() {
	pattern=$1
	# Each pane's process leads a session (setsid) that the shell and its jobs belong to.
	leaders=$(podlab_tmux list-sessions -F '#{session_name} #{pane_pid}' 2>/dev/null | while read -r name leader; do
		# shellcheck disable=SC2254 # PATTERN is a pattern
		case $name in
		$pattern)
			podlab_tmux kill-session -t "=$name"
			rm -f "$state/$name.nonce" "$state/$name.shell" "$state/$name.exit"
			echo "$leader"
			;;
		esac
	done)
	[ -n "$leaders" ] || return 0
	# The hangup ended the shells; what ignored it (nohup, a trap) and stayed in their sessions goes now.
	sleep 1
	for leader in $leaders; do
		pkill -KILL -s "$leader" 2>/dev/null
	done
	return 0
}

mkdir -p "$state"
command=${1:-}
[ $# -gt 0 ] && shift
case $command in
attach) [ $# -eq 5 ] && attach "$@" ;;
shell) [ $# -eq 1 ] && shell "$@" ;;
signal) [ $# -eq 2 ] && signal "$@" ;;
pending) [ $# -eq 1 ] && pending "$@" ;;
end) [ $# -eq 1 ] && end "$@" ;;
*) false ;;
esac || {
	echo "usage: podlab-host.sh attach SESSION NONCE TERM COLS ROWS | shell SESSION | signal SESSION SIGNAL | pending SESSION | end PATTERN" >&2
	exit 2
}

# podlab shell integration, loaded with `bash --rcfile`. Debian's bash has already read
# /etc/bash.bashrc; the reader's own ~/.bashrc still loads here. The markers (OSC 133 with this
# terminal's nonce) tell the gateway when a command starts and ends, which command line it was, and
# with which exit status.

# The nonce comes on descriptor 3 from local-shell.sh, never in the environment (where
# /proc/<pid>/environ would show it to every program of this shell). Read before the reader's own
# ~/.bashrc, whose programs must not get the descriptor either.
{ IFS= read -r __podlab_nonce <&3; } 2>/dev/null
exec 3<&-

if [ -r "$HOME/.bashrc" ]; then
	. "$HOME/.bashrc"
fi

# The command line for the class transcript (the E marker) is read back from the history list, so a
# line bash keeps out of it is not logged: a leading space under ignorespace (Debian's ~/.bashrc sets
# ignoreboth), a HISTIGNORE match, history switched off. That is how people keep a password out of
# records, and students keep it. A repeated command, though, is logged every time: ignoredups and
# erasedups are dropped (the reader's history shows repeats; that is the price).
case ":${HISTCONTROL-}:" in
*:ignorespace:* | *:ignoreboth:*) HISTCONTROL=ignorespace ;;
*) HISTCONTROL= ;;
esac

__podlab_prompt_command() {
	local status=$?
	# The history number the next saved line gets (see __podlab_command_line).
	__podlab_history_next=$HISTCMD
	printf '\033]133;D;%s;nonce=%s\007' "$status" "$__podlab_nonce"
	# Hand the status on unchanged to whatever PROMPT_COMMAND the reader had.
	return "$status"
}

# Prints the E marker for the line about to run; PS0 calls it with the line's history number (\!).
# It runs in PS0's command substitution, a subshell (bash 5.2 has no other way to run code there):
# one fork, and one more to read the entry, no program started. The newest history entry is this
# line only if bash saved it, that is if its number is the one expected: otherwise (a line kept out of
# the history) the newest entry is an older command, and nothing is printed.
__podlab_command_line() {
	(($1 >= __podlab_history_next && __podlab_history_next > 0)) && shopt -oq history || return
	local line
	line=$(builtin fc -ln -0 2>/dev/null) || return
	# fc -n puts a tab before the entry, and then a space ("*" for an edited one) unless in posix mode.
	line=${line#$'\t'}
	line=${line#[ *]}
	# Cut to COMMAND_LINE_MAX_CHARS (server/osc133.ts), then escaped as osc133.ts reads it back.
	line=${line:0:1000}
	line=${line//\\/\\\\}
	line=${line//;/\\x3b}
	line=${line//$'\n'/\\n}
	line=${line//$'\t'/\\t}
	line=${line//[[:cntrl:]]/ }
	printf '\033]133;E;%s;nonce=%s\007' "$line" "$__podlab_nonce"
}

PROMPT_COMMAND="__podlab_prompt_command${PROMPT_COMMAND:+; $PROMPT_COMMAND}"
PS1="\[\033]133;A;nonce=${__podlab_nonce}\007\]${PS1:-\\u@\\h:\\w\\$ }\[\033]133;B;nonce=${__podlab_nonce}\007\]"
# Several lines pasted at once run one after another before the next prompt, each with PS0: the
# arithmetic subscript (of an array that stays empty, so it expands to nothing) moves the expected
# history number past this line in the shell itself, which the subshell cannot.
# shellcheck disable=SC2016
PS0="${PS0-}"'$(__podlab_command_line \!)${__podlab_nothing[__podlab_history_next = \! + 1]-}'"\033]133;C;nonce=${__podlab_nonce}\007"

# Run pastes multi-line blocks as one bracketed paste; show them plainly, not highlighted.
bind 'set enable-bracketed-paste on' 2>/dev/null
bind 'set enable-active-region off' 2>/dev/null
# Run first sends this key (CLEAR_LINE_KEY in server/terminal.ts) to clear a half-typed line.
bind -m emacs '"\e[9999~": kill-whole-line' 2>/dev/null
bind -m vi-insert '"\e[9999~": kill-whole-line' 2>/dev/null

# podlab shell integration on a lab host (the ssh backend), loaded with `bash --rcfile` in the
# terminal's tmux session. It prints the same OSC 133 markers as podlab.bashrc (keep the two in step;
# a unit test compares their key bindings). The gateway attaches to tmux in control mode, which hands
# it the pane's bytes as written, so the markers need no tmux passthrough. What differs comes from a
# shell that outlives the gateway that started it:
#
# - Every gateway that attaches brings its own nonce. podlab-host.sh writes the current one to
#   ~/.podlab/sessions/<session>.nonce before it attaches; the shell reads it at every prompt (a
#   builtin `read`, no fork) and on the private reattach key below, which podlab-host.sh sends after
#   attaching to a shell idle at its prompt, so that the new gateway learns the prompt is up.
# - podlab-host.sh tells whether the shell is at its prompt (the foreground process group of its
#   terminal), so the shell records its pid in ~/.podlab/sessions/<session>.shell.

if [ -r "$HOME/.bashrc" ]; then
	. "$HOME/.bashrc"
fi

# The E marker's command line is read back from the history: a line kept out of it is not logged, a
# repeated one is (see podlab.bashrc).
case ":${HISTCONTROL-}:" in
*:ignorespace:* | *:ignoreboth:*) HISTCONTROL=ignorespace ;;
*) HISTCONTROL= ;;
esac

__podlab_nonce_file="$HOME/.podlab/sessions/${PODLAB_SESSION}.nonce"
printf '%s\n' "$$" > "$HOME/.podlab/sessions/${PODLAB_SESSION}.shell"
unset PODLAB_SESSION

# Re-reads the nonce and rebuilds the markers that PS1 and PS0 expand at each prompt (promptvars).
__podlab_refresh() {
	read -r __podlab_nonce < "$__podlab_nonce_file" 2>/dev/null
	__podlab_prompt_start=$'\e]133;A;nonce='"${__podlab_nonce}"$'\a'
	__podlab_prompt_end=$'\e]133;B;nonce='"${__podlab_nonce}"$'\a'
	__podlab_command_start=$'\e]133;C;nonce='"${__podlab_nonce}"$'\a'
}

__podlab_prompt_command() {
	local status=$?
	__podlab_refresh
	__podlab_history_next=$HISTCMD
	printf '\033]133;D;%s;nonce=%s\007' "$status" "$__podlab_nonce"
	# Hand the status on unchanged to whatever PROMPT_COMMAND the reader had.
	return "$status"
}

# Prints the E marker for the line about to run, as podlab.bashrc does (the reasons are there).
__podlab_command_line() {
	(($1 >= __podlab_history_next && __podlab_history_next > 0)) && shopt -oq history || return
	local line
	line=$(builtin fc -ln -0 2>/dev/null) || return
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

# Bound to the reattach key: readline is at its prompt, but that prompt was printed with the previous
# gateway's nonce. Tell the new gateway that the prompt is up; readline then redraws the line, with
# any half-typed input.
__podlab_reattached() {
	__podlab_refresh
	printf '%s%s' "$__podlab_prompt_start" "$__podlab_prompt_end"
}

__podlab_refresh
PROMPT_COMMAND="__podlab_prompt_command${PROMPT_COMMAND:+; $PROMPT_COMMAND}"
# Single quotes: the markers are expanded at each prompt, with the nonce of the moment.
PS1='\[${__podlab_prompt_start}\]'"${PS1:-\\u@\\h:\\w\\$ }"'\[${__podlab_prompt_end}\]'
# shellcheck disable=SC2016
PS0="${PS0-}"'$(__podlab_command_line \!)${__podlab_nothing[__podlab_history_next = \! + 1]-}${__podlab_command_start}'

# Run pastes multi-line blocks as one bracketed paste; show them plainly, not highlighted.
bind 'set enable-bracketed-paste on' 2>/dev/null
bind 'set enable-active-region off' 2>/dev/null
# Run first sends this key (CLEAR_LINE_KEY in server/terminal.ts) to clear a half-typed line.
bind -m emacs '"\e[9999~": kill-whole-line' 2>/dev/null
bind -m vi-insert '"\e[9999~": kill-whole-line' 2>/dev/null
# podlab-host.sh sends this key (REATTACH_KEY there) after attaching to a shell idle at its prompt.
bind -m emacs -x '"\e[9998~": __podlab_reattached' 2>/dev/null
bind -m vi-insert -x '"\e[9998~": __podlab_reattached' 2>/dev/null

# podlab shell integration, loaded with `bash --rcfile`. Debian's bash has already read
# /etc/bash.bashrc; the reader's own ~/.bashrc still loads here. The markers (OSC 133 with this
# terminal's nonce) tell the gateway when a command starts and ends, and with which exit status.

if [ -r "$HOME/.bashrc" ]; then
	. "$HOME/.bashrc"
fi

# Keep the nonce out of the environment of the programs the reader runs.
__podlab_nonce=$PODLAB_NONCE
unset PODLAB_NONCE

__podlab_prompt_command() {
	local status=$?
	printf '\033]133;D;%s;nonce=%s\007' "$status" "$__podlab_nonce"
	# Hand the status on unchanged to whatever PROMPT_COMMAND the reader had.
	return "$status"
}

PROMPT_COMMAND="__podlab_prompt_command${PROMPT_COMMAND:+; $PROMPT_COMMAND}"
PS1="\[\033]133;A;nonce=${__podlab_nonce}\007\]${PS1:-\\u@\\h:\\w\\$ }\[\033]133;B;nonce=${__podlab_nonce}\007\]"
PS0="${PS0}\033]133;C;nonce=${__podlab_nonce}\007"

# Run pastes multi-line blocks as one bracketed paste; show them plainly, not highlighted.
bind 'set enable-bracketed-paste on' 2>/dev/null
bind 'set enable-active-region off' 2>/dev/null
# Run first sends this key (CLEAR_LINE_KEY in server/terminal.ts) to clear a half-typed line.
bind -m emacs '"\e[9999~": kill-whole-line' 2>/dev/null
bind -m vi-insert '"\e[9999~": kill-whole-line' 2>/dev/null

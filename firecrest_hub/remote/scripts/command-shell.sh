# shellcheck shell=bash
# The service's command shell (remote/shell.py): one long-lived shell per SSH connection that runs the
# service's commands one after another, so that a command costs a fork, not a new SSH session (sshd's
# fork, the login shell, its startup files). Run as `bash --noprofile --norc -c SCRIPT command-shell`.
#
# It first prints its process group, the one sshd made for the session, which the service kills,
# commands and all, when a command must be stopped. Then, for each request on stdin, a line
# "TOKEN INPUT-BYTES COMMAND-BYTES" followed by the command (a shell-quoted argv) and its input, it runs
# the command in a subshell that becomes it (exec: one fork; nothing a command does changes the next
# one's directory or variables), with that input (or none) on its stdin, and ends the command's stdout
# with "\nTOKEN STATUS\n" and its stderr with "\nTOKEN\n". The input is read whole before the command
# starts, so a command that does not read it leaves no bytes behind to be taken for the next request.
# Input holds no NUL byte (a shell variable cannot); the service sends a command whose input has one
# over a session of its own.
read -r _ _ _ _ group _ </proc/$$/stat
printf '%d\n' "$group"
while read -r token input_bytes command_bytes; do
  # Sizes are in bytes: in the C locale, read -N counts bytes, not characters.
  LC_ALL=C read -r -N "$command_bytes" command || exit
  if (( input_bytes > 0 )); then
    LC_ALL=C read -r -N "$input_bytes" input || exit
    printf '%s' "$input" | eval "exec $command"
    status=$?
    input=  # a script may hold secrets: the shell does not keep it
  else
    (eval "exec $command") </dev/null
    status=$?
  fi
  printf '\n%s %d\n' "$token" "$status"
  printf '\n%s\n' "$token" >&2
done

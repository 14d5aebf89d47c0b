# shellcheck shell=bash
# The body of every transfer's batch job, staging's and internal ones (staging/batch.py writes it between
# the job's #SBATCH lines and its calls, each call a quoted argv):
#
#     log_to NAME      standard error from here on goes to NAME in the home directory
#     start WORD...    runs a command in the background, its standard input the call's own (a quoted
#                      here-document where the command reads presigned URLs: they never reach an argv)
#     finish [NAME]    waits for every command started, writes the outcome (0, or the exit status of
#                      the last command that failed) to NAME in the home directory, and ends the job
#                      with it, so that a failed transfer is a failed job
log_to() {
  exec 2>"$HOME/$1"
}
pids=()
start() {
  # Without job control a background command reads /dev/null unless its input is redirected explicitly.
  "$@" <&0 &
  pids+=("$!")
}
finish() {
  local status=0 pid
  for pid in "${pids[@]}"; do
    wait "$pid" || status=$?
  done
  if (($# > 0)); then
    echo "$status" >"$HOME/$1"
  fi
  exit "$status"
}

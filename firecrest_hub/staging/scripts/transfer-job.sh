# shellcheck shell=bash
# The body of every transfer's batch job, staging's and internal ones (staging/batch.py writes it between
# the job's #SBATCH lines and its calls, each call a quoted argv):
#
#     log_to NAME      standard error from here on goes to NAME in the home directory
#     start WORD...    runs a command in the background, its standard input the call's own (a quoted
#                      here-document where the command reads presigned URLs: they never reach an argv)
#     wait_started [NAME]
#                      waits for every command started and writes the outcome (0, or the exit status of
#                      the last command that failed) to NAME in the home directory
#     await_confirmation NAME SECONDS
#                      after a success, waits up to SECONDS for NAME in the home directory, which the
#                      service writes once it has checked what the job moved (the file in place, the
#                      object complete): "ok MESSAGE" is a success, reported on standard output; any
#                      other first line is the reason of a failure
#     announce MESSAGE after a success, reports MESSAGE on standard output
#     finish           ends the job with the outcome, so that a failed transfer is a failed job
log_to() {
  exec 2>"$HOME/$1"
}
pids=()
status=0
start() {
  # Without job control a background command reads /dev/null unless its input is redirected explicitly.
  "$@" <&0 &
  pids+=("$!")
}
wait_started() {
  local pid
  for pid in "${pids[@]}"; do
    wait "$pid" || status=$?
  done
  if (($# > 0)); then
    echo "$status" >"$HOME/$1"
  fi
}
await_confirmation() {
  ((status == 0)) || return 0
  local file=$HOME/$1 line looks=0
  # Looks every 0.1 s for the first 5 s, then every second: the service confirms within moments.
  until [[ -s $file ]]; do
    if ((SECONDS >= $2)); then
      echo "the service did not confirm the transfer within $2 s" >&2
      status=1
      return 0
    fi
    if ((looks++ < 50)); then sleep 0.1; else sleep 1; fi
  done
  IFS= read -r line <"$file"
  rm -f -- "$file"
  if [[ $line == "ok "* ]]; then
    announce "${line#ok }"
  else
    echo "$line" >&2
    status=1
  fi
}
announce() {
  ((status == 0)) || return 0
  echo "$(date -u) $1"
}
finish() {
  exit "$status"
}

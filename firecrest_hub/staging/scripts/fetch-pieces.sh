# shellcheck shell=bash
# Fetch pieces of a file from presigned URLs: run as `bash -c SCRIPT fetch-pieces FILE MODE WAIT CURL-OPTION...`
# with "offset size url" lines on standard input (staging/commands.py, FetchPieces).
#
# Writes each object (or, when MODE is "ranged", the byte range of the object that starts at offset) to
# its place in FILE (which must exist; it is never truncated, so several of these fill one file side by
# side). Otherwise a part that is not there yet (404), or not in full (416, or another size: the client
# sends it again), is asked for again until WAIT seconds after the start: parts that a client is still
# uploading are fetched as they arrive. Whatever arrived is never written beyond the part's own bytes.
# The pauses between looks grow with the wait for the part (25 looks of 0.2 s, 20 of 0.5 s, then 2 s), so
# that a part is taken soon while the client streams, and an idle wait costs little. The URLs reach curl
# as its config through /dev/fd (`read` and `printf` are builtins), never in an argv.
file=$1 mode=$2 wait=$3; shift 3
errors=$(mktemp) && headers=$(mktemp) || exit 1
trap 'rm -f "$errors" "$headers"' EXIT
fail() {
  cat "$errors" >&2
  echo "$1" >&2
  exit 1
}
fetch() {  # the range "$1" at $url into its place at $offset; returns curl's status
  # curl writes into FILE itself, opened (not truncated) on its standard output, where dd has only
  # moved the offset: no pipe, no copy. A file that cannot be opened reports into $errors too.
  local status=0
  { dd bs=1 count=0 seek="$offset" oflag=seek_bytes status=none &&
      curl --config <(printf 'url = "%s"\n' "$url") --range "$1" --dump-header "$headers" \
        --fail --silent --show-error "${@:2}"; } 2>"$errors" 1<>"$file" || status=$?
  (( status != 23 )) || fail "writing the piece at byte $offset failed"  # curl: writing its output failed
  return "$status"
}
while read -r offset size url; do
  if [[ $mode == ranged ]]; then
    fetch "$offset-$((offset + size - 1))" "$@" || fail "the piece at byte $offset failed"
    continue
  fi
  looks=0
  while true; do
    if fetch "0-$((size - 1))" "$@"; then
      grep -qiE "^content-range: bytes 0-$((size - 1))/$size"$'\r?$' "$headers" && break
    else
      grep -q "error: 404\|error: 416" "$errors" || fail "the piece at byte $offset failed"
    fi
    (( SECONDS < wait )) || fail "the part at byte $offset did not arrive in full within $wait s"
    if (( looks++ < 25 )); then sleep 0.2; elif (( looks < 45 )); then sleep 0.5; else sleep 2; fi
  done
done

# shellcheck shell=bash
# Push byte ranges of a file as the parts of a multipart upload: run as
# `bash -c SCRIPT push-parts FILE CURL-OPTION...` with "number offset size url" lines on standard input
# (staging/commands.py, PushParts), each range PUT to its URL, one after the other.
#
# `read` and `printf` are builtins, so the URLs never reach an argv; curl gets each as its config through
# /dev/fd. The explicit Content-Length (without chunked encoding) is what S3 needs for a body from a pipe.
set -o pipefail
file=$1; shift
while read -r number offset size url; do
  dd if="$file" iflag=skip_bytes,count_bytes skip="$offset" count="$size" bs=4M status=none |
    curl --config <(printf 'url = "%s"\n' "$url") --upload-file - --fail --silent --show-error \
      --header "Content-Length: $size" --header "Transfer-Encoding:" --header "Expect:" "$@" ||
    { echo "part $number failed" >&2; exit 1; }
done

# shellcheck shell=bash
# Extract the archive "$2" with "$1" (tar or unzip) into the directory "$3" (made if missing), leaving no
# symlink behind that is absolute or leads out of what the archive holds.
#
# The archive is unpacked into a fresh private directory inside the target: so the links it made are told
# apart from what the target held before, nothing reaches them before they are checked, and the moves into
# place stay on one filesystem. A link there is kept only if its target is relative and the kernel, following
# it (and any links it passes through), ends inside that directory: such links point within the archive
# wherever the archive lands. Every other link is removed and named on stderr. Then each top-level entry is
# moved into the target, or merged with hard links (no data is copied) where the target has that name already.
set -o errexit -o nounset -o pipefail
shopt -s dotglob nullglob
tool=$1 archive=$2 target=$3

mkdir -p -- "$target"
unpacked=$(realpath -- "$(mktemp -d -- "$target/.extract.XXXXXXXX")")
trap 'rm -rf -- "$unpacked"' EXIT

case $tool in
  tar) tar --extract --file="$archive" --directory="$unpacked" ;;
  # -o: overwrite without asking (nobody answers).
  unzip) unzip -o -q -d "$unpacked" -- "$archive" ;;
  *) echo "no extractor named $tool" >&2; exit 2 ;;
esac

mapfile -d '' -t links < <(find "$unpacked" -type l -print0)
wait "$!"  # find's status: a directory it could not read would hide the links in it
for link in "${links[@]}"; do
  destination=$(readlink -- "$link")
  if [[ $destination != /* ]] && resolved=$(realpath --canonicalize-missing -- "$link" 2>/dev/null) &&
      [[ $resolved == "$unpacked" || $resolved == "$unpacked"/* ]]; then
    continue
  fi
  rm -f -- "$link"
  echo "removed the symlink ${link#"$unpacked"/} -> $destination: it leads out of the archive" >&2
done

for entry in "$unpacked"/*; do
  name=${entry##*/}
  if [[ -e $target/$name || -L $target/$name ]]; then
    cp --archive --link --remove-destination -- "$entry" "$target/"
  else
    mv --no-target-directory -- "$entry" "$target/$name"
  fi
done

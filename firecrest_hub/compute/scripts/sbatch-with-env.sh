#!/bin/bash
# sbatch, with job environment variables that never appear in an argv, where `ps` would show them to
# every user of the login node. Standard input holds their count on a line of its own, then each
# NAME=VALUE followed by a NUL, then what sbatch itself reads from standard input (the batch script,
# when it comes that way). The arguments are sbatch's. `read` and `export` are builtins, so the values
# reach sbatch only through its environment, which only its owner can read, and sbatch's default
# --export=ALL hands them to the job.
set -euo pipefail

IFS= read -r count
[[ $count =~ ^[0-9]+$ ]] || { echo "sbatch-with-env: no variable count on standard input" >&2; exit 2; }
variables=()
for ((i = 0; i < count; i++)); do
  IFS= read -r -d '' variable || { echo "sbatch-with-env: standard input ended after $i variables" >&2; exit 2; }
  variables+=("$variable")
done
# All at once, after the loop: a variable named like one of this script's own cannot disturb it.
export -- "${variables[@]}"
exec sbatch "$@"

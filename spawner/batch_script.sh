#!/bin/bash
{#- The notebook's Slurm job (FirecrestSpawner.batch_script), rendered with Jinja2 on the hub and sent
    to sbatch on stdin. Everything here is the administrator's configuration or a validated option;
    `quote` shell-quotes a value. Partition, account, nodes, runtime and reservation are sbatch options
    of the submission itself, so they do not appear here. #}
#SBATCH --output={{ log_file }}
#SBATCH --cpus-per-task={{ options.cpus }}
#SBATCH --mem={{ options.memory }}M
{%- if options.gpus %}
#SBATCH --gres=gpu:{{ options.gpus }}
{%- endif %}
{%- if extra_directives %}
#SBATCH {{ extra_directives }}
{%- endif %}

set -euo pipefail

# JupyterHub (5.2 and later) hands the server no PATH: set the one it, its terminals and kernels need.
export PATH={{ notebook_env | quote }}/bin:/usr/local/bin:/usr/bin:/bin

# What the server needs from the hub: its API token, URLs and OAuth client. Nothing else of the hub's.
{%- for name, value in environment | dictsort %}
export {{ name }}={{ value | quote }}
{%- endfor %}

{{ prologue }}
{{ command | map("quote") | join(" ") }}
{{ epilogue }}

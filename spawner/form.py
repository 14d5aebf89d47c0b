"""The spawn options form: templates/spawn_options.html, filled with each system's partitions and limits.

The form only helps: it shows the limits and sets the inputs' bounds, but what it sends is validated
again on the hub (`options.validate_options`), like any REST API request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import jinja2

from firecrest_hub.assets import asset_dir
from firecrest_hub.errors import FirecrestError

from .backend import allowed_partitions
from .options import KNOWN_OPTIONS, PartitionLimits

TEMPLATE = "spawn_options.html"


@dataclass
class SystemChoice:
    name: str
    description: str
    default_partition: str
    partitions: dict[str, PartitionLimits] = field(default_factory=dict)
    reservations: list[str] = field(default_factory=list)
    problem: str = ""


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(asset_dir("templates", TEMPLATE)), autoescape=True,
                              undefined=jinja2.StrictUndefined)


async def render_options_form(spawner) -> str:
    """The form for `spawner`'s user, prefilled with the options of their last start."""
    backend = spawner.backend
    systems = []
    for name in spawner.system_names():
        system = backend.system(name)
        choice = SystemChoice(name, system.description, spawner.option_defaults.get("partition")
                              or system.default_partition or "")
        try:
            offer = await backend.offer(await backend.session(spawner.user.name, system), spawner.limits_max_age)
        except FirecrestError as error:
            choice.problem = error.description
        else:
            choice.partitions = allowed_partitions(offer, system, spawner.partitions)
            choice.reservations = sorted(offer.reservations)
            if choice.default_partition not in choice.partitions:
                choice.default_partition = next(
                    (limits.name for limits in choice.partitions.values() if limits.default),
                    next(iter(choice.partitions), ""))
        systems.append(choice)
    values = {key: "" for key in KNOWN_OPTIONS}
    values.update({key: str(value) for key, value in spawner.option_defaults.items()})
    values.update({key: str(value) for key, value in spawner.remembered_options.items() if key in KNOWN_OPTIONS})
    if not values["system"]:
        values["system"] = systems[0].name
    return _environment().get_template(TEMPLATE).render(
        systems=systems, values=values, settable=set(spawner.settable_options))

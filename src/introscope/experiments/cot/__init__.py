"""What the chain-of-thought slices share (``docs/protocols.md`` §6): how an item is shown
and answered, the prompts and hints, the reasoning chains and their interventions, linear
probes of the answer, and table columns whose unit is the item (intervals clustered by item
family). The slices are ``cot_probe``, ``cot_interventions`` and ``cot_hints``."""

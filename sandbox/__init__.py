"""Offline stand-ins for HubSpot and billwerk.

hubwerk never talks to the real services from tests, demos or benchmarks. The two
servers in this package behave like them closely enough that "passes against the
sandbox" means "works against the real thing": same paths, same payload shapes, same
refusals, same limits. See ``sandbox/README.md`` and the README's "Sandboxes" section.
"""

"""Pure mapping between HubSpot records and billwerk payloads (STYLE: "Mapping is pure and
tested with fixtures"): no I/O, no Flask, no database, so flows can call it anywhere and tests
need nothing but fixtures.

* :mod:`.problems` — what a rep must fix, with a link to the record.
* :mod:`.address`  — the address rule, countries, US states, street/house number.
* :mod:`.customer` — company + contact -> billwerk customer, its validation and PATCH diff.
* :mod:`.dates`    — billwerk timestamps <-> HubSpot midnight-UTC dates.
* :mod:`.catalog`  — billwerk plan variants, components, discounts -> HubSpot products.
"""

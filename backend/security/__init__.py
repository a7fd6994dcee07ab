"""Request authentication: pure functions, no Flask. See hubspot_signature and basic_auth."""

"""Setting a portal up and taking it down again: install and revoke, the connector account,
the billwerk connection, the closed-won stages and the HubSpot properties the connector owns."""

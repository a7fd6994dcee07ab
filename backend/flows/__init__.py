"""Business flows, one module per flow; ``backend/registry.py`` names them and what starts them."""

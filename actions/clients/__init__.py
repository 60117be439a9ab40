"""Clients of the services the actions call, one module per service."""

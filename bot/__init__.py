"""Support service for people affected by domestic abuse: gateway, storage, NLU and configuration."""

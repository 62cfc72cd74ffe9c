"""Shared services: db, accounts, jobs, storage, and HTTP helpers for routers."""

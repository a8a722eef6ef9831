"""Staff side of the service: accounts, sessions, second factor, audit log, queue and reports.

The web layer is bot/gateway/staff; the tables are in bot/storage/models.py (migration 0003).
"""

"""Confidential callback booking: parsing and validating answers, the summary, saving the booking.

The Rasa actions in actions/callback.py are thin wrappers around this package.
"""

"""The aiohttp gateway: web chat, REST webhook, Twilio webhook and staff dashboard in one app."""

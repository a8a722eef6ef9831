"""The SMS channel through Twilio.

- `gsm`: GSM-7 characters and segment counting (what a reply may contain on a basic phone).
- `render`: Rasa replies → SMS bodies, buttons → numbered options ("Reply 1 for ...").
- `store`: processed MessageSids, opt-outs, numbered choices, privacy notices, delivery failures and
  offline outbound records. Numbers are only ever stored as an HMAC.
- `sender`: outbound sends (recorded instead of sent in offline mode).
- `webhook`: `POST /webhooks/twilio` and `POST /webhooks/twilio/status` on the gateway.
"""

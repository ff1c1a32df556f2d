"""SMS through Twilio: inbound and status webhooks, the REST transport, opt-out and segments."""

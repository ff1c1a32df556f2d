"""Email channel: SMTP listener, IMAP/POP3 polling, provider webhooks, outbound mail."""

"""Channel adapters, one subpackage each. Imported as caredesk.channels (never a top-level `channels`)."""

"""Secrets at rest are encrypted with a key from the environment."""

import pytest

from caredesk.core.crypto import decrypt, encrypt


def test_round_trip_and_ciphertext_hides_the_secret():
    stored = encrypt("imap-password-123")
    assert stored.startswith("fernet:") and "imap-password-123" not in stored
    assert decrypt(stored) == "imap-password-123"


def test_a_different_key_cannot_decrypt(settings):
    settings.CAREDESK_ENCRYPTION_KEY = "key-one"
    stored = encrypt("secret")
    settings.CAREDESK_ENCRYPTION_KEY = "key-two"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        decrypt(stored)

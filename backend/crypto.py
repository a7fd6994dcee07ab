"""Secrets at rest: Fernet with key rotation (``ENCRYPTION_KEYS``, newest first).

``MultiFernet`` encrypts with the first key and decrypts with any of them, so adding a new key
in front keeps every stored secret readable; ``flask --app backend rotate-encryption`` then
re-encrypts everything under the new key so the old one can be dropped.
"""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

EXTENSION_KEY = "hubwerk.crypto"


class SecretUnreadable(RuntimeError):
    """A stored secret cannot be decrypted with any key in ENCRYPTION_KEYS."""


class Vault:
    def __init__(self, keys: tuple[str, ...]):
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretUnreadable(
                "a stored secret cannot be decrypted: ENCRYPTION_KEYS no longer contains the key it was written with"
            ) from None

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")


def init_app(app: Flask, keys: tuple[str, ...]) -> None:
    app.extensions[EXTENSION_KEY] = Vault(keys)


def vault() -> Vault:
    return current_app.extensions[EXTENSION_KEY]


class EncryptedText(TypeDecorator):
    """A text column whose value is stored Fernet-encrypted and read back in plain text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return vault().encrypt(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return vault().decrypt(value)

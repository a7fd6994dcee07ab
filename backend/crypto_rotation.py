"""Re-encrypt every encrypted column under the newest Fernet key."""
from __future__ import annotations

from sqlalchemy import select, update

from backend.crypto import EncryptedText, vault
from backend.extensions import db


def encrypted_columns():
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                yield table, column


def rotate_all() -> int:
    """Read the raw tokens (no decryption by the column type), rotate each, write it back."""
    count = 0
    v = vault()
    for table, column in encrypted_columns():
        pk = list(table.primary_key.columns)[0]
        raw = db.session.execute(select(pk, column.cast(db.Text)).where(column.isnot(None))).all()
        for key, token in raw:
            db.session.execute(update(table).where(pk == key).values({column.name: db.literal(v.rotate(token), db.Text)}))
            count += 1
    db.session.commit()
    return count

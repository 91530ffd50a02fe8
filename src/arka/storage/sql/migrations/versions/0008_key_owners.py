"""API key owners: the person each key belongs to (`owner`) and, for a key created
through the API, the person whose credential created it (`issued_by`). Four-eyes
approval compares these persons, never key ids.

Existing keys get the person of the key that created them (`created_by` =
`apikey:<id>`, followed back to the first key), so a second key an admin minted for
itself is the admin again; a key created by an operator or the system (the first admin
key, `arka-cli apikey create`) is a person of its own, `apikey:<its id>` (each such key
was made separately, by someone with database access).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("owner", sa.String(256)))
    op.add_column("api_keys", sa.Column("issued_by", sa.String(256)))
    conn = op.get_bind()
    keys = sa.table("api_keys", sa.column("id", sa.String), sa.column("created_by", sa.String),
                    sa.column("owner", sa.String), sa.column("issued_by", sa.String))
    created_by = dict(conn.execute(sa.select(keys.c.id, keys.c.created_by)).all())

    def person(key_id: str, seen: frozenset[str] = frozenset()) -> str:
        """Whose key this is: the person of the credential that created it, else itself."""
        creator = created_by.get(key_id) or ""
        parent = creator.removeprefix("apikey:")
        if creator.startswith("apikey:") and parent in created_by and parent not in seen:
            return person(parent, seen | {key_id})
        if creator.startswith("jwt:"):
            return creator.removeprefix("jwt:")
        return f"apikey:{key_id}"

    for key_id, creator in sorted(created_by.items()):
        creator = creator or ""
        made_by_credential = creator.startswith("jwt:") or (
            creator.startswith("apikey:") and creator.removeprefix("apikey:") in created_by)
        owner = person(key_id)
        conn.execute(keys.update().where(keys.c.id == key_id).values(
            owner=owner, issued_by=owner if made_by_credential else None))


def downgrade() -> None:
    raise NotImplementedError("key owners cannot be downgraded; restore a backup")

"""customer links remember their person contact

The contact a customer was created or last updated with: its changes of first name, last name,
e-mail and phone update that customer. Links made before are given the contact their import saw.

Revision ID: 3c1e5d0a9b47
Revises: 60df7279f9fd
Create Date: 2026-12-02 12:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c1e5d0a9b47'
down_revision = '60df7279f9fd'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customer_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hubspot_contact_id', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_customer_links_portal_contact', ['portal_id', 'hubspot_contact_id'], unique=False)
    op.execute(
        "UPDATE customer_links SET hubspot_contact_id = (SELECT c.hubspot_contact_id FROM import_candidates c "
        "WHERE c.portal_id = customer_links.portal_id AND c.hubspot_company_id = customer_links.hubspot_company_id) "
        "WHERE hubspot_contact_id IS NULL"
    )


def downgrade():
    with op.batch_alter_table('customer_links', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_links_portal_contact')
        batch_op.drop_column('hubspot_contact_id')

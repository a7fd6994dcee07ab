"""card reads from the database: the linked customer's name, indexes for the card look-ups

Revision ID: 3c1a5e0d9b7f
Revises: a7c3e1f2b9d4
Create Date: 2026-12-02 13:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c1a5e0d9b7f'
down_revision = 'a7c3e1f2b9d4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customer_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billwerk_customer_name', sa.String(length=255), nullable=True))
        batch_op.create_index('ix_customer_links_company', ['portal_id', 'hubspot_company_id'], unique=False)
    with op.batch_alter_table('import_candidates', schema=None) as batch_op:
        batch_op.create_index('ix_import_candidates_deal', ['portal_id', 'hubspot_deal_id'], unique=False)


def downgrade():
    with op.batch_alter_table('import_candidates', schema=None) as batch_op:
        batch_op.drop_index('ix_import_candidates_deal')
    with op.batch_alter_table('customer_links', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_links_company')
        batch_op.drop_column('billwerk_customer_name')

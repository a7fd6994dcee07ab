"""contract states: escalation moments, the last invoice and the values last written per contract

Revision ID: a7c3e1f2b9d4
Revises: 4f1c2e9a7b30
Create Date: 2026-12-02 12:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e1f2b9d4'
down_revision = '4f1c2e9a7b30'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('contract_states',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portal_id', sa.Integer(), nullable=False),
    sa.Column('billwerk_contract_id', sa.String(length=64), nullable=False),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reset_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('invoice_hint', sa.String(length=64), nullable=True),
    sa.Column('last_invoice_id', sa.String(length=64), nullable=True),
    sa.Column('last_invoice_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deal_id', sa.String(length=32), nullable=True),
    sa.Column('written', sa.JSON(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['portal_id'], ['portals.id'], name=op.f('fk_contract_states_portal_id_portals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_states')),
    sa.UniqueConstraint('portal_id', 'billwerk_contract_id', name=op.f('uq_contract_states_portal_id_billwerk_contract_id'))
    )
    with op.batch_alter_table('contract_states', schema=None) as batch_op:
        batch_op.create_index('ix_contract_states_checked', ['portal_id', 'checked_at'], unique=False)


def downgrade():
    with op.batch_alter_table('contract_states', schema=None) as batch_op:
        batch_op.drop_index('ix_contract_states_checked')
    op.drop_table('contract_states')

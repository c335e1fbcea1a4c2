"""Initial schema: products, orders, order_lines, confirmations, email_outbox, task_runs; seed products.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEED_PRODUCTS = [
    {"sku": "TEE-BLACK-M", "name": "T-shirt, black, M", "price_cents": 1990},
    {"sku": "TEE-WHITE-L", "name": "T-shirt, white, L", "price_cents": 1990},
    {"sku": "MUG-LOGO", "name": "Mug with logo", "price_cents": 1250},
    {"sku": "CAP-GREY", "name": "Cap, grey", "price_cents": 1500},
    {"sku": "STICKER-PACK", "name": "Sticker pack", "price_cents": 400},
]


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    """Create the tables and seed a few products."""
    products = op.create_table(
        "products",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("price_cents", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.CheckConstraint("price_cents >= 0", name="products_price_cents_check"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("customer", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="new"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    )
    op.create_index("orders_created_at_idx", "orders", ["created_at"])
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.BigInteger, sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("line_no", sa.SmallInteger, primary_key=True),
        sa.Column("sku", sa.Text, sa.ForeignKey("products.sku"), nullable=False),
        sa.Column("qty", sa.Integer, nullable=False),
        sa.Column("price_cents", sa.Integer, nullable=False),
        sa.CheckConstraint("qty > 0", name="order_lines_qty_check"),
    )
    op.create_table(
        "confirmations",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("order_id", sa.BigInteger, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.UniqueConstraint("order_id", name="confirmations_order_id_key"),
    )
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("order_id", sa.BigInteger, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.UniqueConstraint("order_id", "kind", name="email_outbox_order_id_kind_key"),
    )
    op.create_index("email_outbox_created_at_idx", "email_outbox", ["created_at"])
    op.create_table(
        "task_runs",
        sa.Column("token", sa.Text, primary_key=True),
        sa.Column("executions", sa.Integer, nullable=False, server_default="1"),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    )
    op.bulk_insert(products, SEED_PRODUCTS)


def downgrade() -> None:
    """Drop everything revision 0001 created."""
    for table in ("task_runs", "email_outbox", "confirmations", "order_lines", "orders", "products"):
        op.drop_table(table)

-- botdb migration 2024-12-26-132844_upd_table_purchases (mysql)
-- Alembic revision: 5ca0f991801d
-- Drops purchases.payment_type.

ALTER TABLE purchases DROP COLUMN payment_type;

-- botdb migration 2024-12-26-132844_upd_table_purchases (sqlite)
-- Alembic revision: 5ca0f991801d
-- Drops purchases.payment_type; it is a plain, unindexed column, so DROP COLUMN restores the previous schema exactly.

ALTER TABLE purchases DROP COLUMN payment_type;

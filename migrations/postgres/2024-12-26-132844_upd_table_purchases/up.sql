-- botdb migration 2024-12-26-132844_upd_table_purchases (postgres)
-- Alembic revision: 5ca0f991801d
-- Adds purchases.payment_type VARCHAR NOT NULL; the temporary default fills existing rows with 'unknown' and is then dropped.

ALTER TABLE purchases ADD COLUMN payment_type VARCHAR NOT NULL DEFAULT 'unknown';
ALTER TABLE purchases ALTER COLUMN payment_type DROP DEFAULT;

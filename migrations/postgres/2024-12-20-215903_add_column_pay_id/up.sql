-- botdb migration 2024-12-20-215903_add_column_pay_id (postgres)
-- Alembic revision: 1720ca777755
-- Adds purchases.payment_id VARCHAR NOT NULL with constraint uq_purchases_payment_id; existing rows get the unique value 'legacy-<id>'.

ALTER TABLE purchases ADD COLUMN payment_id VARCHAR;
UPDATE purchases SET payment_id = 'legacy-' || id;
ALTER TABLE purchases ALTER COLUMN payment_id SET NOT NULL;
ALTER TABLE purchases ADD CONSTRAINT uq_purchases_payment_id UNIQUE (payment_id);

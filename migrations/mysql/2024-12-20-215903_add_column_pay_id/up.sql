-- botdb migration 2024-12-20-215903_add_column_pay_id (mysql)
-- Alembic revision: 1720ca777755
-- Adds purchases.payment_id VARCHAR(255) NOT NULL with unique key uq_purchases_payment_id; existing rows get the unique value 'legacy-<id>'.

ALTER TABLE purchases ADD COLUMN payment_id VARCHAR(255);
UPDATE purchases SET payment_id = CONCAT('legacy-', id);
ALTER TABLE purchases
    MODIFY payment_id VARCHAR(255) NOT NULL,
    ADD CONSTRAINT uq_purchases_payment_id UNIQUE (payment_id);

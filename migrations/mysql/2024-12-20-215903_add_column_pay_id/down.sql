-- botdb migration 2024-12-20-215903_add_column_pay_id (mysql)
-- Alembic revision: 1720ca777755
-- Drops purchases.payment_id together with its unique key.

-- The key is not dropped by name: dropping its only column drops it whatever it is called
-- (uq_purchases_payment_id when this migration made it, payment_id if a database was made
-- by the Python bot's create_all), so this also works on adopted databases.

ALTER TABLE purchases DROP COLUMN payment_id;

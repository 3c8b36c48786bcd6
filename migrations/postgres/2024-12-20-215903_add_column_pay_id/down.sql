-- botdb migration 2024-12-20-215903_add_column_pay_id (postgres)
-- Alembic revision: 1720ca777755
-- Drops purchases.payment_id together with its unique constraint.

-- The constraint is not dropped by name: dropping the column drops it whatever it is called
-- (uq_purchases_payment_id when this migration made it, purchases_payment_id_key on databases
-- the Python bot created with create_all), so this also works on adopted databases.

ALTER TABLE purchases DROP COLUMN payment_id;

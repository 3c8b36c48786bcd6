-- botdb migration 2026-11-25-100000_cascade_deletes (mysql)
-- Alembic revision: none (botdb's own step)
-- Re-creates the three foreign keys (same names) without an ON DELETE action and renames their indexes back to the names InnoDB gave them.

-- Same two-statement pattern as up.sql: a foreign key cannot be dropped and re-added under
-- the same name in one ALTER TABLE.

ALTER TABLE purchases
    DROP FOREIGN KEY purchases_user_id_fkey,
    DROP FOREIGN KEY purchases_product_id_fkey;
ALTER TABLE purchases
    RENAME INDEX ix_purchases_user_id TO purchases_user_id_fkey,
    RENAME INDEX ix_purchases_product_id TO purchases_product_id_fkey,
    ADD CONSTRAINT purchases_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id),
    ADD CONSTRAINT purchases_product_id_fkey
        FOREIGN KEY (product_id) REFERENCES products (id);

ALTER TABLE products
    DROP FOREIGN KEY products_category_id_fkey;
ALTER TABLE products
    RENAME INDEX ix_products_category_id TO products_category_id_fkey,
    ADD CONSTRAINT products_category_id_fkey
        FOREIGN KEY (category_id) REFERENCES categories (id);

-- botdb migration 2026-11-25-100000_cascade_deletes (postgres)
-- Alembic revision: none (botdb's own step)
-- Drops the foreign key indexes and re-creates the three foreign keys (same names) without an ON DELETE action.

DROP INDEX ix_purchases_product_id;
DROP INDEX ix_purchases_user_id;
DROP INDEX ix_products_category_id;

ALTER TABLE purchases
    DROP CONSTRAINT purchases_product_id_fkey,
    DROP CONSTRAINT purchases_user_id_fkey,
    ADD CONSTRAINT purchases_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id),
    ADD CONSTRAINT purchases_product_id_fkey
        FOREIGN KEY (product_id) REFERENCES products (id);

ALTER TABLE products
    DROP CONSTRAINT products_category_id_fkey,
    ADD CONSTRAINT products_category_id_fkey
        FOREIGN KEY (category_id) REFERENCES categories (id);

-- botdb migration 2026-11-25-100000_cascade_deletes (postgres)
-- Alembic revision: none (botdb's own step)
-- Re-creates the three foreign keys (same names) as ON DELETE CASCADE and indexes every foreign key column.

ALTER TABLE products
    DROP CONSTRAINT products_category_id_fkey,
    ADD CONSTRAINT products_category_id_fkey
        FOREIGN KEY (category_id) REFERENCES categories (id) ON DELETE CASCADE;

ALTER TABLE purchases
    DROP CONSTRAINT purchases_user_id_fkey,
    DROP CONSTRAINT purchases_product_id_fkey,
    ADD CONSTRAINT purchases_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    ADD CONSTRAINT purchases_product_id_fkey
        FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE;

CREATE INDEX ix_products_category_id ON products (category_id);
CREATE INDEX ix_purchases_user_id ON purchases (user_id);
CREATE INDEX ix_purchases_product_id ON purchases (product_id);

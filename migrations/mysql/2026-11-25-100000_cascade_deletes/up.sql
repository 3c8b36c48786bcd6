-- botdb migration 2026-11-25-100000_cascade_deletes (mysql)
-- Alembic revision: none (botdb's own step)
-- Re-creates the three foreign keys (same names) as ON DELETE CASCADE; the index InnoDB made for each is kept and renamed ix_<table>_<column>.

-- A foreign key cannot be dropped and re-added under the same name in one ALTER TABLE
-- (InnoDB reports errno 121, duplicate key), so each table takes two statements. Dropping
-- a foreign key keeps its index; the re-added constraint uses that (renamed) index.

ALTER TABLE products
    DROP FOREIGN KEY products_category_id_fkey;
ALTER TABLE products
    RENAME INDEX products_category_id_fkey TO ix_products_category_id,
    ADD CONSTRAINT products_category_id_fkey
        FOREIGN KEY (category_id) REFERENCES categories (id) ON DELETE CASCADE;

ALTER TABLE purchases
    DROP FOREIGN KEY purchases_user_id_fkey,
    DROP FOREIGN KEY purchases_product_id_fkey;
ALTER TABLE purchases
    RENAME INDEX purchases_user_id_fkey TO ix_purchases_user_id,
    RENAME INDEX purchases_product_id_fkey TO ix_purchases_product_id,
    ADD CONSTRAINT purchases_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    ADD CONSTRAINT purchases_product_id_fkey
        FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE;

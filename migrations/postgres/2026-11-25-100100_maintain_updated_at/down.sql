-- botdb migration 2026-11-25-100100_maintain_updated_at (postgres)
-- Alembic revision: none (botdb's own step)
-- Drops the four updated_at triggers and their function; updated_at goes back to being set only by the application.

DROP TRIGGER trg_purchases_updated_at ON purchases;
DROP TRIGGER trg_products_updated_at ON products;
DROP TRIGGER trg_categories_updated_at ON categories;
DROP TRIGGER trg_users_updated_at ON users;

DROP FUNCTION botdb_set_updated_at();

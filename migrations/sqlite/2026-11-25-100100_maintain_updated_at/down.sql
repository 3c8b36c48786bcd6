-- botdb migration 2026-11-25-100100_maintain_updated_at (sqlite)
-- Alembic revision: none (botdb's own step)
-- Drops the four updated_at triggers; updated_at goes back to being set only by the application.

DROP TRIGGER trg_purchases_updated_at;
DROP TRIGGER trg_products_updated_at;
DROP TRIGGER trg_categories_updated_at;
DROP TRIGGER trg_users_updated_at;

-- botdb migration 2026-11-25-100100_maintain_updated_at (mysql)
-- Alembic revision: none (botdb's own step)
-- Removes ON UPDATE CURRENT_TIMESTAMP from updated_at; updated_at goes back to being set only by the application.

ALTER TABLE purchases
    MODIFY updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE products
    MODIFY updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE categories
    MODIFY updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE users
    MODIFY updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP;

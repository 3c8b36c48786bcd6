-- botdb migration 2026-11-25-100100_maintain_updated_at (sqlite)
-- Alembic revision: none (botdb's own step)
-- Keeps updated_at current: after an UPDATE that did not set updated_at itself, a trigger stamps CURRENT_TIMESTAMP.

-- The inner UPDATE skips rows already stamped with CURRENT_TIMESTAMP, so the triggers cannot
-- re-fire endlessly if a connection turns on PRAGMA recursive_triggers (two updates of a row
-- within the same second would otherwise recurse until SQLite's trigger depth limit).

CREATE TRIGGER trg_users_updated_at AFTER UPDATE ON users
FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE users SET updated_at = CURRENT_TIMESTAMP
    WHERE id = NEW.id AND updated_at IS NOT CURRENT_TIMESTAMP;
END;

CREATE TRIGGER trg_categories_updated_at AFTER UPDATE ON categories
FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE categories SET updated_at = CURRENT_TIMESTAMP
    WHERE id = NEW.id AND updated_at IS NOT CURRENT_TIMESTAMP;
END;

CREATE TRIGGER trg_products_updated_at AFTER UPDATE ON products
FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE products SET updated_at = CURRENT_TIMESTAMP
    WHERE id = NEW.id AND updated_at IS NOT CURRENT_TIMESTAMP;
END;

CREATE TRIGGER trg_purchases_updated_at AFTER UPDATE ON purchases
FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE purchases SET updated_at = CURRENT_TIMESTAMP
    WHERE id = NEW.id AND updated_at IS NOT CURRENT_TIMESTAMP;
END;

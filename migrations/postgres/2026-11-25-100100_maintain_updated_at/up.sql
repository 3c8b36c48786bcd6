-- botdb migration 2026-11-25-100100_maintain_updated_at (postgres)
-- Alembic revision: none (botdb's own step)
-- Keeps updated_at current: a BEFORE UPDATE trigger on each table sets now() unless the UPDATE changed updated_at itself.

CREATE FUNCTION botdb_set_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION botdb_set_updated_at();

CREATE TRIGGER trg_categories_updated_at BEFORE UPDATE ON categories
    FOR EACH ROW EXECUTE FUNCTION botdb_set_updated_at();

CREATE TRIGGER trg_products_updated_at BEFORE UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION botdb_set_updated_at();

CREATE TRIGGER trg_purchases_updated_at BEFORE UPDATE ON purchases
    FOR EACH ROW EXECUTE FUNCTION botdb_set_updated_at();

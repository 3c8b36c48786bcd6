-- botdb migration 2024-12-20-144707_add_hidden_content (postgres)
-- Alembic revision: 1b95d36c8908
-- Adds products.hidden_content TEXT NOT NULL; the temporary default fills existing rows with '' and is then dropped.

ALTER TABLE products ADD COLUMN hidden_content TEXT NOT NULL DEFAULT '';
ALTER TABLE products ALTER COLUMN hidden_content DROP DEFAULT;

-- botdb migration 2024-12-20-144707_add_hidden_content (mysql)
-- Alembic revision: 1b95d36c8908
-- Drops products.hidden_content.

ALTER TABLE products DROP COLUMN hidden_content;

-- botdb migration 2024-12-20-144707_add_hidden_content (mysql)
-- Alembic revision: 1b95d36c8908
-- Adds products.hidden_content TEXT NOT NULL without a default: added nullable, existing rows set to '', then made NOT NULL
-- (MySQL does not accept a literal DEFAULT on a TEXT column, so the add-with-default-then-drop-it route is not portable).

ALTER TABLE products ADD COLUMN hidden_content TEXT;
UPDATE products SET hidden_content = '';
ALTER TABLE products MODIFY hidden_content TEXT NOT NULL;

-- botdb migration 2024-12-20-144707_add_hidden_content (sqlite)
-- Alembic revision: 1b95d36c8908
-- Drops products.hidden_content; it is a plain, unindexed column, so DROP COLUMN restores the previous schema exactly.

ALTER TABLE products DROP COLUMN hidden_content;

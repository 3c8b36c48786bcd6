-- botdb migration 2024-12-20-105908_initial_revision (postgres)
-- Alembic revision: 2fda6446e69f (follows the empty 47f559ec82bb)
-- Drops the four tables, children before parents (no CASCADE needed); the SERIAL sequences go with their tables.

DROP TABLE purchases;
DROP TABLE products;
DROP TABLE users;
DROP TABLE categories;

-- botdb migration 2024-12-20-105908_initial_revision (mysql)
-- Alembic revision: 2fda6446e69f (follows the empty 47f559ec82bb)
-- Drops the four tables, children before parents, so every DROP passes the foreign key checks.

DROP TABLE purchases;
DROP TABLE products;
DROP TABLE users;
DROP TABLE categories;

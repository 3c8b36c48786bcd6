-- botdb migration 2024-12-20-105908_initial_revision (postgres)
-- Alembic revision: 2fda6446e69f (follows the empty 47f559ec82bb)
-- Creates the bot's four tables as the Python models did at that revision; constraints carry the names PostgreSQL gave the Python-created ones.

CREATE TABLE categories (
    category_name TEXT NOT NULL,
    id SERIAL NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT categories_pkey PRIMARY KEY (id)
);

CREATE TABLE users (
    telegram_id BIGINT NOT NULL,
    username VARCHAR,
    first_name VARCHAR,
    last_name VARCHAR,
    id SERIAL NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_telegram_id_key UNIQUE (telegram_id)
);

CREATE TABLE products (
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    price INTEGER NOT NULL,
    file_id TEXT,
    category_id INTEGER NOT NULL,
    id SERIAL NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT products_pkey PRIMARY KEY (id),
    CONSTRAINT products_category_id_fkey FOREIGN KEY (category_id) REFERENCES categories (id)
);

CREATE TABLE purchases (
    user_id INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    price INTEGER NOT NULL,
    id SERIAL NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT purchases_pkey PRIMARY KEY (id),
    CONSTRAINT purchases_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT purchases_product_id_fkey FOREIGN KEY (product_id) REFERENCES products (id)
);

-- botdb migration 2026-11-25-100000_cascade_deletes (sqlite)
-- Alembic revision: none (botdb's own step)
-- Restores the three foreign keys without an ON DELETE action and drops the foreign key indexes. products and purchases
-- are rebuilt together; the old purchases is dropped before the old products, so no cascade ever deletes a row.

DROP INDEX ix_purchases_product_id;
DROP INDEX ix_purchases_user_id;
DROP INDEX ix_products_category_id;

CREATE TABLE products_new (
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    price INTEGER NOT NULL,
    file_id TEXT,
    category_id INTEGER NOT NULL,
    id INTEGER NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,
    hidden_content TEXT NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY (category_id) REFERENCES categories (id)
);

INSERT INTO products_new (name, description, price, file_id, category_id, id, created_at, updated_at, hidden_content)
SELECT name, description, price, file_id, category_id, id, created_at, updated_at, hidden_content
FROM products;

CREATE TABLE purchases_new (
    user_id INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    price INTEGER NOT NULL,
    id INTEGER NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,
    payment_id VARCHAR NOT NULL,
    payment_type VARCHAR NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY (user_id) REFERENCES users (id),
    FOREIGN KEY (product_id) REFERENCES products_new (id),
    CONSTRAINT uq_purchases_payment_id UNIQUE (payment_id)
);

INSERT INTO purchases_new (user_id, product_id, price, id, created_at, updated_at, payment_id, payment_type)
SELECT user_id, product_id, price, id, created_at, updated_at, payment_id, payment_type
FROM purchases;

DROP TABLE purchases;
DROP TABLE products;

ALTER TABLE products_new RENAME TO products;
ALTER TABLE purchases_new RENAME TO purchases;

-- botdb migration 2026-11-25-100000_cascade_deletes (sqlite)
-- Alembic revision: none (botdb's own step)
-- Makes all three foreign keys ON DELETE CASCADE and indexes every foreign key column. SQLite cannot alter a
-- foreign key, so products and purchases are rebuilt together (see the note below).

-- foreign_keys is ON and cannot be turned off inside the migration's transaction, so the usual
-- "rename old away, create new" rebuild does not work for a parent table: renaming products away
-- would rewrite purchases' REFERENCES to the old name, and dropping products while purchases
-- still references it fails. Instead the new products and a new purchases pointing at it are
-- built side by side, the old pair is dropped child first (the old purchases is a leaf and
-- nothing references the old products any more, so no row is deleted by a cascade), and the
-- renames then rewrite purchases' REFERENCES products_new back to products.

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
    FOREIGN KEY (category_id) REFERENCES categories (id) ON DELETE CASCADE
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
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    FOREIGN KEY (product_id) REFERENCES products_new (id) ON DELETE CASCADE,
    CONSTRAINT uq_purchases_payment_id UNIQUE (payment_id)
);

INSERT INTO purchases_new (user_id, product_id, price, id, created_at, updated_at, payment_id, payment_type)
SELECT user_id, product_id, price, id, created_at, updated_at, payment_id, payment_type
FROM purchases;

DROP TABLE purchases;
DROP TABLE products;

ALTER TABLE products_new RENAME TO products;
ALTER TABLE purchases_new RENAME TO purchases;

CREATE INDEX ix_products_category_id ON products (category_id);
CREATE INDEX ix_purchases_user_id ON purchases (user_id);
CREATE INDEX ix_purchases_product_id ON purchases (product_id);

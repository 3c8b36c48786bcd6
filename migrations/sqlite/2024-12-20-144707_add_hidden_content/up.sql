-- botdb migration 2024-12-20-144707_add_hidden_content (sqlite)
-- Alembic revision: 1b95d36c8908
-- Adds products.hidden_content TEXT NOT NULL without a default (existing rows get ''). SQLite cannot ADD such a column,
-- so products is rebuilt; purchases references products and is rebuilt with it (see the note below).

-- foreign_keys is ON and cannot be turned off inside the migration's transaction, so the usual
-- "rename old away, create new" rebuild does not work for a parent table: renaming products away
-- would rewrite purchases' REFERENCES to the old name, and dropping products while purchases
-- still references it fails. Instead the new products and a new purchases pointing at it are
-- built side by side, the old pair is dropped child first, and the renames then rewrite
-- purchases' REFERENCES products_new back to products.

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
SELECT name, description, price, file_id, category_id, id, created_at, updated_at, ''
FROM products;

CREATE TABLE purchases_new (
    user_id INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    price INTEGER NOT NULL,
    id INTEGER NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY (user_id) REFERENCES users (id),
    FOREIGN KEY (product_id) REFERENCES products_new (id)
);

INSERT INTO purchases_new (user_id, product_id, price, id, created_at, updated_at)
SELECT user_id, product_id, price, id, created_at, updated_at
FROM purchases;

DROP TABLE purchases;
DROP TABLE products;

ALTER TABLE products_new RENAME TO products;
ALTER TABLE purchases_new RENAME TO purchases;

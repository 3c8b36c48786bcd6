-- botdb migration 2024-12-20-215903_add_column_pay_id (sqlite)
-- Alembic revision: 1720ca777755
-- Removes purchases.payment_id. SQLite cannot DROP a UNIQUE column, so purchases (a leaf table) is rebuilt without it.

CREATE TABLE purchases_new (
    user_id INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    price INTEGER NOT NULL,
    id INTEGER NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY (user_id) REFERENCES users (id),
    FOREIGN KEY (product_id) REFERENCES products (id)
);

INSERT INTO purchases_new (user_id, product_id, price, id, created_at, updated_at)
SELECT user_id, product_id, price, id, created_at, updated_at
FROM purchases;

DROP TABLE purchases;

ALTER TABLE purchases_new RENAME TO purchases;

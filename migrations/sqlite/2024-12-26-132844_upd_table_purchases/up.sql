-- botdb migration 2024-12-26-132844_upd_table_purchases (sqlite)
-- Alembic revision: 5ca0f991801d
-- Adds purchases.payment_type VARCHAR NOT NULL without a default (existing rows get 'unknown').
-- SQLite cannot ADD a NOT NULL column without a default, so purchases (a leaf table) is rebuilt.

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
    FOREIGN KEY (product_id) REFERENCES products (id),
    CONSTRAINT uq_purchases_payment_id UNIQUE (payment_id)
);

INSERT INTO purchases_new (user_id, product_id, price, id, created_at, updated_at, payment_id, payment_type)
SELECT user_id, product_id, price, id, created_at, updated_at, payment_id, 'unknown'
FROM purchases;

DROP TABLE purchases;

ALTER TABLE purchases_new RENAME TO purchases;

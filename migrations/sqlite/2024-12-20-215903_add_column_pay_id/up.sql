-- botdb migration 2024-12-20-215903_add_column_pay_id (sqlite)
-- Alembic revision: 1720ca777755
-- Adds purchases.payment_id VARCHAR NOT NULL with constraint uq_purchases_payment_id (existing rows get 'legacy-<id>').
-- SQLite cannot ADD a NOT NULL or UNIQUE column, so purchases is rebuilt; it is a leaf table, so a plain rebuild is safe.

CREATE TABLE purchases_new (
    user_id INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    price INTEGER NOT NULL,
    id INTEGER NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,
    payment_id VARCHAR NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY (user_id) REFERENCES users (id),
    FOREIGN KEY (product_id) REFERENCES products (id),
    CONSTRAINT uq_purchases_payment_id UNIQUE (payment_id)
);

INSERT INTO purchases_new (user_id, product_id, price, id, created_at, updated_at, payment_id)
SELECT user_id, product_id, price, id, created_at, updated_at, 'legacy-' || id
FROM purchases;

DROP TABLE purchases;

ALTER TABLE purchases_new RENAME TO purchases;

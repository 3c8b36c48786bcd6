-- botdb migration 2024-12-20-105908_initial_revision (mysql)
-- Alembic revision: 2fda6446e69f (follows the empty 47f559ec82bb)
-- Creates the bot's four tables as the Python models did at that revision; constraints carry PostgreSQL's names so all backends agree.

CREATE TABLE categories (
    category_name TEXT NOT NULL,
    id INT NOT NULL AUTO_INCREMENT,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE users (
    telegram_id BIGINT NOT NULL,
    username VARCHAR(255),
    first_name VARCHAR(255),
    last_name VARCHAR(255),
    id INT NOT NULL AUTO_INCREMENT,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    CONSTRAINT users_telegram_id_key UNIQUE (telegram_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- InnoDB creates an index for each foreign key, named after the constraint.

CREATE TABLE products (
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    price INT NOT NULL,
    file_id TEXT,
    category_id INT NOT NULL,
    id INT NOT NULL AUTO_INCREMENT,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    CONSTRAINT products_category_id_fkey FOREIGN KEY (category_id) REFERENCES categories (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE purchases (
    user_id INT NOT NULL,
    product_id INT NOT NULL,
    price INT NOT NULL,
    id INT NOT NULL AUTO_INCREMENT,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    CONSTRAINT purchases_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT purchases_product_id_fkey FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

//! Demo data for trying the bot locally. Every row has a natural key (category name,
//! product name, Telegram id, payment id) and is inserted only when missing, so seeding
//! twice gives the same data.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::database::Database;
use crate::db::with_connection;
use crate::error::{Doing, Error, Result};
use crate::models::{NewCategory, NewProduct, NewPurchase, NewUser};
use crate::schema::{categories, products, purchases, users};

const CATEGORIES: [&str; 3] = ["E-books", "Music", "Software"];

/// (name, description, price, category, hidden content)
const PRODUCTS: [(&str, &str, i32, &str, &str); 4] = [
    (
        "The Rust Book (PDF)",
        "The Rust Programming Language, offline edition",
        0,
        "E-books",
        "https://example.invalid/rust-book.pdf",
    ),
    (
        "SQL Cookbook",
        "Recipes for everyday queries",
        450,
        "E-books",
        "https://example.invalid/sql-cookbook.epub",
    ),
    (
        "Lo-fi beats vol. 1",
        "Twelve tracks to code to, FLAC",
        300,
        "Music",
        "https://example.invalid/lofi-1.zip",
    ),
    (
        "Editor licence",
        "One-year licence key",
        1200,
        "Software",
        "DEMO-KEY-1234-5678",
    ),
];

/// (Telegram id, username, first name)
const USERS: [(i64, &str, &str); 2] = [
    (100_000_001, "alice_demo", "Alice"),
    (100_000_002, "bob_demo", "Bob"),
];

/// (buyer's Telegram id, product, payment type, payment id)
const PURCHASES: [(i64, &str, &str, &str); 3] = [
    (100_000_001, "SQL Cookbook", "stars", "demo-payment-1"),
    (100_000_001, "Lo-fi beats vol. 1", "card", "demo-payment-2"),
    (100_000_002, "Editor licence", "card", "demo-payment-3"),
];

/// Rows inserted by a seed; all zero when the demo data was already there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Seeded {
    /// Categories inserted.
    pub categories: usize,
    /// Products inserted.
    pub products: usize,
    /// Users inserted.
    pub users: usize,
    /// Purchases inserted.
    pub purchases: usize,
}

fn seed_error(e: diesel::result::Error) -> Error {
    Error::query(Doing::Seed, e)
}

/// Runs `$insert` (a block that inserts one row) when `$existing` (a query for that row)
/// finds nothing, and counts the insert in `$inserted`. A macro, not a function: the
/// connection's type is different for each backend inside `with_connection!`.
macro_rules! insert_missing {
    ($conn:ident, $existing:expr, $inserted:expr, $insert:block) => {
        let found: i64 = $existing
            .count()
            .get_result(&mut $conn)
            .await
            .map_err(seed_error)?;
        if found == 0 {
            $insert
            $inserted += 1;
        }
    };
}

impl Database {
    /// Inserts the demo categories, products, users and purchases that are missing.
    pub async fn seed(&self) -> Result<Seeded> {
        let mut seeded = Seeded::default();
        with_connection!(self.pool(), |conn| {
            for name in CATEGORIES {
                let existing = categories::table.filter(categories::category_name.eq(name));
                insert_missing!(conn, existing, seeded.categories, {
                    diesel::insert_into(categories::table)
                        .values(&NewCategory {
                            category_name: name,
                        })
                        .execute(&mut conn)
                        .await
                        .map_err(seed_error)?;
                });
            }
            for (name, description, price, category, hidden) in PRODUCTS {
                let existing = products::table.filter(products::name.eq(name));
                insert_missing!(conn, existing, seeded.products, {
                    let category_id: i32 = categories::table
                        .filter(categories::category_name.eq(category))
                        .select(categories::id)
                        .first(&mut conn)
                        .await
                        .map_err(seed_error)?;
                    let product = NewProduct {
                        name,
                        description,
                        price,
                        file_id: None,
                        category_id,
                        hidden_content: hidden,
                    };
                    diesel::insert_into(products::table)
                        .values(&product)
                        .execute(&mut conn)
                        .await
                        .map_err(seed_error)?;
                });
            }
            for (telegram_id, username, first_name) in USERS {
                let existing = users::table.filter(users::telegram_id.eq(telegram_id));
                insert_missing!(conn, existing, seeded.users, {
                    let user = NewUser {
                        telegram_id,
                        username: Some(username),
                        first_name: Some(first_name),
                        last_name: None,
                    };
                    diesel::insert_into(users::table)
                        .values(&user)
                        .execute(&mut conn)
                        .await
                        .map_err(seed_error)?;
                });
            }
            for (telegram_id, product, payment_type, payment_id) in PURCHASES {
                let existing = purchases::table.filter(purchases::payment_id.eq(payment_id));
                insert_missing!(conn, existing, seeded.purchases, {
                    let user_id: i32 = users::table
                        .filter(users::telegram_id.eq(telegram_id))
                        .select(users::id)
                        .first(&mut conn)
                        .await
                        .map_err(seed_error)?;
                    let (product_id, price): (i32, i32) = products::table
                        .filter(products::name.eq(product))
                        .select((products::id, products::price))
                        .first(&mut conn)
                        .await
                        .map_err(seed_error)?;
                    let purchase = NewPurchase {
                        user_id,
                        product_id,
                        price,
                        payment_type,
                        payment_id,
                    };
                    diesel::insert_into(purchases::table)
                        .values(&purchase)
                        .execute(&mut conn)
                        .await
                        .map_err(seed_error)?;
                });
            }
        });
        Ok(seeded)
    }
}

//! Rows of the bot's tables, inserted in batches and checked after migrating.

use botdb::models::{Product, Purchase, User};
use botdb::schema::{products, purchases, users};
use botdb::Database;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{execute, TestResult};

/// Inserts one batch of rows, using only the columns that exist after `stage` migrations:
/// two users, a category, a product in it and a purchase of it by the second user.
pub async fn insert_batch(db: &Database, stage: usize, batch: i64) -> TestResult {
    execute(
        db,
        &format!(
            "INSERT INTO users (telegram_id, username, first_name, last_name) VALUES \
             ({a}, 'user_{batch}', 'O''Brien', NULL), ({b}, NULL, NULL, 'Last {batch}')",
            a = batch * 10 + 1,
            b = batch * 10 + 2
        ),
    )
    .await?;
    execute(
        db,
        &format!("INSERT INTO categories (category_name) VALUES ('Category {batch}')"),
    )
    .await?;
    let (hidden_col, hidden_val) = if stage >= 2 {
        (", hidden_content", format!(", 'Secret {batch}'"))
    } else {
        ("", String::new())
    };
    execute(
        db,
        &format!(
            "INSERT INTO products (name, description, price, file_id, category_id{hidden_col}) \
             SELECT 'Product {batch}', 'About {batch}', {price}, NULL, MAX(id){hidden_val} FROM categories",
            price = batch * 100
        ),
    )
    .await?;
    let mut columns = String::new();
    let mut values = String::new();
    if stage >= 3 {
        columns.push_str(", payment_id");
        values.push_str(&format!(", 'pay-{batch}'"));
    }
    if stage >= 4 {
        columns.push_str(", payment_type");
        values.push_str(", 'card'");
    }
    execute(
        db,
        &format!(
            "INSERT INTO purchases (user_id, product_id, price{columns}) \
             SELECT (SELECT MAX(id) FROM users), MAX(id), {price}{values} FROM products",
            price = batch * 100 + 1
        ),
    )
    .await
}

/// telegram_id, username, first_name, last_name.
type UserFields = (i64, Option<String>, Option<String>, Option<String>);

/// Every row of every batch is there, unchanged, and still points at the right parents.
/// Batch `b` (from 1) was inserted by [`insert_batch`] after `stages[b - 1]` migrations, so
/// the columns added later hold the migrations' fill values.
pub async fn check_content(db: &Database, stages: &[usize]) -> TestResult {
    let batches = stages.len() as i64;
    botdb::with_connection!(db.pool(), |conn| {
        let people = users::table
            .select(User::as_select())
            .order(users::id)
            .load(&mut conn)
            .await?;
        let expected: Vec<UserFields> = (1..=batches)
            .flat_map(|b| {
                [
                    (
                        b * 10 + 1,
                        Some(format!("user_{b}")),
                        Some("O'Brien".to_string()),
                        None,
                    ),
                    (b * 10 + 2, None, None, Some(format!("Last {b}"))),
                ]
            })
            .collect();
        let got: Vec<_> = people
            .into_iter()
            .map(|u| (u.telegram_id, u.username, u.first_name, u.last_name))
            .collect();
        assert_eq!(got, expected);

        let goods = products::table
            .select(Product::as_select())
            .order(products::id)
            .load(&mut conn)
            .await?;
        assert_eq!(goods.len(), stages.len());
        for ((b, &stage), p) in (1..=batches).zip(stages).zip(&goods) {
            assert_eq!(
                (p.name.as_str(), p.description.as_str(), p.price),
                (
                    format!("Product {b}").as_str(),
                    format!("About {b}").as_str(),
                    (b * 100) as i32
                )
            );
            assert_eq!(p.file_id, None);
            let hidden = if stage < 2 {
                String::new()
            } else {
                format!("Secret {b}")
            };
            assert_eq!(p.hidden_content, hidden);
        }

        let sales: Vec<(Purchase, i64, String)> = purchases::table
            .inner_join(users::table)
            .inner_join(products::table)
            .select((Purchase::as_select(), users::telegram_id, products::name))
            .order(purchases::id)
            .load(&mut conn)
            .await?;
        assert_eq!(sales.len(), stages.len());
        for ((b, &stage), (sale, buyer, product)) in (1..=batches).zip(stages).zip(&sales) {
            assert_eq!(
                (sale.price, *buyer, product.clone()),
                ((b * 100 + 1) as i32, b * 10 + 2, format!("Product {b}"))
            );
            let payment_id = if stage < 3 {
                format!("legacy-{}", sale.id)
            } else {
                format!("pay-{b}")
            };
            let payment_type = if stage < 4 { "unknown" } else { "card" };
            assert_eq!(
                (sale.payment_id.as_str(), sale.payment_type.as_str()),
                (payment_id.as_str(), payment_type)
            );
        }
        Ok(())
    })
}

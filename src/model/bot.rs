//! The bot's schema, declared once. Editing this file is how the schema changes: then
//! `botdb generate NAME` writes the migration for all three backends, and
//! `botdb print-schema > src/schema.rs` regenerates diesel's table definitions.

use super::{Column, ColumnType::*, Default, OnDelete, Schema, Table};

/// `id`, `created_at` and `updated_at`, the columns every table of the Python bot's
/// `Base` ends with, in its order.
fn base_columns(table: Table) -> Table {
    table
        .column_def(Column::new("id", Integer).auto_increment())
        .column_def(Column::new("created_at", Timestamp).default(Default::Now))
        .column_def(Column::new("updated_at", Timestamp).default(Default::Now))
        .primary_key(&["id"])
        .maintain_updated_at("updated_at")
}

/// The bot's schema at the head of the migration history.
pub fn schema() -> Schema {
    let users = base_columns(
        Table::new("users")
            .doc("Telegram users who talked to the bot.")
            .column_def(Column::new("telegram_id", BigInt))
            .column_def(Column::new("username", Varchar).nullable())
            .column_def(Column::new("first_name", Varchar).nullable())
            .column_def(Column::new("last_name", Varchar).nullable()),
    )
    .unique("users_telegram_id_key", &["telegram_id"]);

    let categories = base_columns(
        Table::new("categories")
            .doc("Product categories.")
            .column_def(Column::new("category_name", Text)),
    );

    let products = base_columns(
        Table::new("products")
            .doc("Digital goods on sale.")
            .column_def(Column::new("name", Text))
            .column_def(Column::new("description", Text))
            .column_def(Column::new("price", Integer))
            .column_def(Column::new("file_id", Text).nullable())
            .column_def(Column::new("category_id", Integer)),
    )
    .column_def(Column::new("hidden_content", Text))
    .index("ix_products_category_id", &["category_id"])
    .foreign_key(
        "products_category_id_fkey",
        "category_id",
        "categories",
        OnDelete::Cascade,
    );

    let purchases = base_columns(
        Table::new("purchases")
            .doc("Completed purchases.")
            .column_def(Column::new("user_id", Integer))
            .column_def(Column::new("product_id", Integer))
            .column_def(Column::new("price", Integer)),
    )
    .column_def(Column::new("payment_id", Varchar))
    .column_def(Column::new("payment_type", Varchar))
    .unique("uq_purchases_payment_id", &["payment_id"])
    .index("ix_purchases_user_id", &["user_id"])
    .index("ix_purchases_product_id", &["product_id"])
    .foreign_key(
        "purchases_user_id_fkey",
        "user_id",
        "users",
        OnDelete::Cascade,
    )
    .foreign_key(
        "purchases_product_id_fkey",
        "product_id",
        "products",
        OnDelete::Cascade,
    );

    Schema {
        tables: vec![users, categories, products, purchases],
    }
}

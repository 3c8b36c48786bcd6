//! Rows of the bot's four tables: what is read, what is inserted, what is updated.
//!
//! Read with `as_select()`, e.g. `users::table.select(User::as_select())`, so a struct's
//! field order never has to match the table's column order.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{categories, products, purchases, users};

/// A Telegram user.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    /// Primary key.
    pub id: i32,
    /// Telegram's user id; unique.
    pub telegram_id: i64,
    /// `@username`, if set.
    pub username: Option<String>,
    /// First name, if known.
    pub first_name: Option<String>,
    /// Last name, if known.
    pub last_name: Option<String>,
    /// When the row was inserted.
    pub created_at: NaiveDateTime,
    /// When the row was last updated; maintained by the database.
    pub updated_at: NaiveDateTime,
}

/// A new user.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    /// Telegram's user id.
    pub telegram_id: i64,
    /// `@username`.
    pub username: Option<&'a str>,
    /// First name.
    pub first_name: Option<&'a str>,
    /// Last name.
    pub last_name: Option<&'a str>,
}

/// Profile fields the bot refreshes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserUpdate<'a> {
    /// New `@username` (`Some(None)` clears it).
    pub username: Option<Option<&'a str>>,
    /// New first name.
    pub first_name: Option<Option<&'a str>>,
    /// New last name.
    pub last_name: Option<Option<&'a str>>,
}

/// A product category.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = categories)]
pub struct Category {
    /// Primary key.
    pub id: i32,
    /// Display name.
    pub category_name: String,
    /// When the row was inserted.
    pub created_at: NaiveDateTime,
    /// When the row was last updated; maintained by the database.
    pub updated_at: NaiveDateTime,
}

/// A new category.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = categories)]
pub struct NewCategory<'a> {
    /// Display name.
    pub category_name: &'a str,
}

/// Renaming a category.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = categories)]
pub struct CategoryUpdate<'a> {
    /// New display name.
    pub category_name: &'a str,
}

/// A digital product; `hidden_content` is what a buyer receives.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Associations)]
#[diesel(table_name = products, belongs_to(Category))]
pub struct Product {
    /// Primary key.
    pub id: i32,
    /// Name shown in the catalogue.
    pub name: String,
    /// Description shown in the catalogue.
    pub description: String,
    /// Price in the smallest currency unit.
    pub price: i32,
    /// Telegram file id of an attached file, if any.
    pub file_id: Option<String>,
    /// The category; deleting it deletes the product.
    pub category_id: i32,
    /// Delivered after payment.
    pub hidden_content: String,
    /// When the row was inserted.
    pub created_at: NaiveDateTime,
    /// When the row was last updated; maintained by the database.
    pub updated_at: NaiveDateTime,
}

/// A new product.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = products)]
pub struct NewProduct<'a> {
    /// Name.
    pub name: &'a str,
    /// Description.
    pub description: &'a str,
    /// Price.
    pub price: i32,
    /// Telegram file id.
    pub file_id: Option<&'a str>,
    /// Category.
    pub category_id: i32,
    /// Delivered after payment.
    pub hidden_content: &'a str,
}

/// Fields an admin edits on a product; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = products)]
pub struct ProductUpdate<'a> {
    /// New name.
    pub name: Option<&'a str>,
    /// New description.
    pub description: Option<&'a str>,
    /// New price.
    pub price: Option<i32>,
    /// New file id (`Some(None)` removes the file).
    pub file_id: Option<Option<&'a str>>,
    /// Move to another category.
    pub category_id: Option<i32>,
    /// New delivered content.
    pub hidden_content: Option<&'a str>,
}

/// A completed purchase.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Associations)]
#[diesel(table_name = purchases, belongs_to(User), belongs_to(Product))]
pub struct Purchase {
    /// Primary key.
    pub id: i32,
    /// The buyer; deleting the user deletes the purchase.
    pub user_id: i32,
    /// The product; deleting the product deletes the purchase.
    pub product_id: i32,
    /// Price paid.
    pub price: i32,
    /// Payment provider, e.g. `yookassa`, `stars`; `unknown` for rows older than the column.
    pub payment_type: String,
    /// The provider's payment id; unique. `legacy-<id>` for rows older than the column.
    pub payment_id: String,
    /// When the row was inserted.
    pub created_at: NaiveDateTime,
    /// When the row was last updated; maintained by the database.
    pub updated_at: NaiveDateTime,
}

/// A new purchase.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = purchases)]
pub struct NewPurchase<'a> {
    /// The buyer.
    pub user_id: i32,
    /// The product.
    pub product_id: i32,
    /// Price paid.
    pub price: i32,
    /// Payment provider.
    pub payment_type: &'a str,
    /// The provider's payment id.
    pub payment_id: &'a str,
}

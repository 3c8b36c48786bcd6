//! diesel table definitions, one set for all three backends.
//!
//! Columns are listed in their physical order: the Python bot's order for the first
//! migration, then the columns later migrations added at the end.

diesel::table! {
    /// Telegram users who talked to the bot.
    users (id) {
        telegram_id -> BigInt,
        username -> Nullable<Varchar>,
        first_name -> Nullable<Varchar>,
        last_name -> Nullable<Varchar>,
        id -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Product categories.
    categories (id) {
        category_name -> Text,
        id -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Digital goods on sale.
    products (id) {
        name -> Text,
        description -> Text,
        price -> Integer,
        file_id -> Nullable<Text>,
        category_id -> Integer,
        id -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        hidden_content -> Text,
    }
}

diesel::table! {
    /// Completed purchases.
    purchases (id) {
        user_id -> Integer,
        product_id -> Integer,
        price -> Integer,
        id -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        payment_id -> Varchar,
        payment_type -> Varchar,
    }
}

diesel::joinable!(products -> categories (category_id));
diesel::joinable!(purchases -> products (product_id));
diesel::joinable!(purchases -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(categories, products, purchases, users);

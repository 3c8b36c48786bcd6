//! The models against a migrated database: insert, load, update, cascade, uniqueness.

use botdb::models::*;
use botdb::schema::{categories, products, purchases, users};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::RunQueryDsl;

use crate::per_backend;
use crate::support::{TestDb, TestResult};

per_backend!(models_round_trip);

fn long_ago() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

fn is_unique_violation<T>(result: Result<T, DieselError>) -> bool {
    matches!(
        result,
        Err(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            _
        ))
    )
}

async fn models_round_trip(t: TestDb) -> TestResult {
    let db = t.connect().await;
    db.migrate().await?;
    botdb::with_connection!(db.pool(), |conn| {
        // Insert with New*, load with as_select().
        let new_user = NewUser {
            telegram_id: 9_000_000_001,
            username: Some("ann"),
            first_name: Some("Ann"),
            last_name: None,
        };
        diesel::insert_into(users::table)
            .values(&new_user)
            .execute(&mut conn)
            .await?;
        let ann: User = users::table
            .filter(users::telegram_id.eq(new_user.telegram_id))
            .select(User::as_select())
            .first(&mut conn)
            .await?;
        assert_eq!(
            (ann.username.as_deref(), ann.last_name.as_deref()),
            (Some("ann"), None)
        );

        diesel::insert_into(categories::table)
            .values(&NewCategory {
                category_name: "E-books",
            })
            .execute(&mut conn)
            .await?;
        let books: Category = categories::table
            .select(Category::as_select())
            .first(&mut conn)
            .await?;
        diesel::insert_into(products::table)
            .values(&NewProduct {
                name: "Rust book",
                description: "A PDF",
                price: 500,
                file_id: Some("BQACAgIAAx"),
                category_id: books.id,
                hidden_content: "https://example.invalid/download",
            })
            .execute(&mut conn)
            .await?;
        let book: Product = Product::belonging_to(&books)
            .select(Product::as_select())
            .first(&mut conn)
            .await?;
        assert_eq!(
            (book.price, book.file_id.as_deref()),
            (500, Some("BQACAgIAAx"))
        );
        let sale = NewPurchase {
            user_id: ann.id,
            product_id: book.id,
            price: 500,
            payment_type: "stars",
            payment_id: "tg-charge-1",
        };
        diesel::insert_into(purchases::table)
            .values(&sale)
            .execute(&mut conn)
            .await?;
        let bought: Vec<Purchase> = Purchase::belonging_to(&ann)
            .select(Purchase::as_select())
            .load(&mut conn)
            .await?;
        assert_eq!(bought.len(), 1);
        assert_eq!(
            (
                bought[0].payment_type.as_str(),
                bought[0].payment_id.as_str()
            ),
            ("stars", "tg-charge-1")
        );

        // Duplicates are refused by the database.
        assert!(is_unique_violation(
            diesel::insert_into(purchases::table)
                .values(&sale)
                .execute(&mut conn)
                .await
        ));
        assert!(is_unique_violation(
            diesel::insert_into(users::table)
                .values(&new_user)
                .execute(&mut conn)
                .await
        ));

        // An update moves updated_at but not created_at.
        diesel::update(users::table.find(ann.id))
            .set((
                users::created_at.eq(long_ago()),
                users::updated_at.eq(long_ago()),
            ))
            .execute(&mut conn)
            .await?;
        let change = UserUpdate {
            username: Some(Some("ann_new")),
            ..UserUpdate::default()
        };
        diesel::update(users::table.find(ann.id))
            .set(&change)
            .execute(&mut conn)
            .await?;
        let updated: User = users::table
            .find(ann.id)
            .select(User::as_select())
            .first(&mut conn)
            .await?;
        assert_eq!(updated.username.as_deref(), Some("ann_new"));
        assert_eq!(updated.created_at, long_ago());
        assert!(
            updated.updated_at > long_ago(),
            "updated_at did not move: {}",
            updated.updated_at
        );

        diesel::update(products::table.find(book.id))
            .set((products::updated_at.eq(long_ago()),))
            .execute(&mut conn)
            .await?;
        diesel::update(products::table.find(book.id))
            .set(&ProductUpdate {
                price: Some(450),
                file_id: Some(None),
                ..ProductUpdate::default()
            })
            .execute(&mut conn)
            .await?;
        let cheaper: Product = products::table
            .find(book.id)
            .select(Product::as_select())
            .first(&mut conn)
            .await?;
        assert_eq!((cheaper.price, cheaper.file_id), (450, None));
        assert!(cheaper.updated_at > long_ago());
        diesel::update(categories::table.find(books.id))
            .set((
                categories::created_at.eq(long_ago()),
                categories::updated_at.eq(long_ago()),
            ))
            .execute(&mut conn)
            .await?;
        let renamed = diesel::update(categories::table.find(books.id))
            .set(&CategoryUpdate {
                category_name: "Books",
            })
            .execute(&mut conn)
            .await?;
        assert_eq!(renamed, 1);
        let books_now: Category = categories::table
            .find(books.id)
            .select(Category::as_select())
            .first(&mut conn)
            .await?;
        assert_eq!(
            (books_now.category_name.as_str(), books_now.created_at),
            ("Books", long_ago())
        );
        assert!(
            books_now.updated_at > long_ago(),
            "updated_at did not move: {}",
            books_now.updated_at
        );
        let names: Vec<String> = categories::table
            .select(categories::category_name)
            .load(&mut conn)
            .await?;
        assert_eq!(names, ["Books"], "renamed in place, nothing added");

        // Deleting a category deletes its products and their purchases; deleting a user
        // deletes their purchases.
        diesel::delete(categories::table.find(books.id))
            .execute(&mut conn)
            .await?;
        let left: i64 = products::table.count().get_result(&mut conn).await?;
        let sales: i64 = purchases::table.count().get_result(&mut conn).await?;
        assert_eq!((left, sales), (0, 0));

        diesel::insert_into(categories::table)
            .values(&NewCategory {
                category_name: "Music",
            })
            .execute(&mut conn)
            .await?;
        let music: Category = categories::table
            .select(Category::as_select())
            .first(&mut conn)
            .await?;
        diesel::insert_into(products::table)
            .values(&NewProduct {
                name: "Album",
                description: "FLAC",
                price: 300,
                file_id: None,
                category_id: music.id,
                hidden_content: "code",
            })
            .execute(&mut conn)
            .await?;
        let album: Product = products::table
            .select(Product::as_select())
            .first(&mut conn)
            .await?;
        diesel::insert_into(purchases::table)
            .values(&NewPurchase {
                user_id: ann.id,
                product_id: album.id,
                price: 300,
                payment_type: "card",
                payment_id: "tg-charge-2",
            })
            .execute(&mut conn)
            .await?;
        diesel::delete(users::table.find(ann.id))
            .execute(&mut conn)
            .await?;
        let sales: i64 = purchases::table.count().get_result(&mut conn).await?;
        let albums: i64 = products::table.count().get_result(&mut conn).await?;
        assert_eq!(
            (sales, albums),
            (0, 1),
            "a user's purchases go with the user, products stay"
        );
        Ok(())
    })
}

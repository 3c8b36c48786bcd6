//! The bot's query loop, for `bench/pooler.sh`: TASKS tasks share the library's pool and
//! each runs ITERATIONS lookups of a user by Telegram id (every 25th also inserts one), as
//! a bot handling updates does. Prints the wall time in ms. The database must be migrated.
//!
//!     cargo run --example bot_loop -- URL [TASKS] [ITERATIONS]

use std::time::Instant;

use botdb::schema::users;
use botdb::{Database, DatabaseUrl, PoolOptions};
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: bot_loop URL [TASKS] [ITERATIONS]")?;
    let tasks: i64 = args.next().map_or(Ok(16), |a| a.parse())?;
    let iterations: i64 = args.next().map_or(Ok(625), |a| a.parse())?;
    let options = PoolOptions {
        max_size: u32::try_from(tasks)?,
        ..PoolOptions::default()
    };
    let db = Database::connect_with(DatabaseUrl::parse(&url)?, &options).await?;
    let query = |e: diesel::result::Error| botdb::Error::Refused(e.to_string());
    let started = Instant::now();
    let mut running = Vec::new();
    for task in 0..tasks {
        let db = db.clone();
        running.push(tokio::spawn(async move {
            for i in 0..iterations {
                botdb::with_connection!(db.pool(), |conn| {
                    if i % 25 == 0 {
                        diesel::insert_into(users::table)
                            .values(users::telegram_id.eq(task * 1_000_000 + i))
                            .execute(&mut conn)
                            .await
                            .map_err(query)?;
                    }
                    users::table
                        .filter(users::telegram_id.eq(task * 1_000_000))
                        .count()
                        .get_result::<i64>(&mut conn)
                        .await
                        .map_err(query)?
                });
            }
            Ok::<_, botdb::Error>(())
        }));
    }
    for task in running {
        task.await??;
    }
    println!("{}", started.elapsed().as_millis());
    Ok(())
}

//! The migration history on every backend: from empty, step by step with rows, and back.

use botdb::model::OnDelete;
use botdb::{RevertTarget, State};

use crate::per_backend;
use crate::support::{
    bot_tables, check_content, count, insert_batch, row_counts, TestDb, TestResult, BOT_TABLES,
    VERSIONS,
};

per_backend!(
    migrate_from_empty,
    status_never_writes,
    revert_all_leaves_no_bot_tables,
    history_walk_keeps_every_row
);

async fn migrate_from_empty(t: TestDb) -> TestResult {
    let db = t.connect().await;
    let before = db.status().await?;
    assert_eq!(before.pending().count(), VERSIONS.len());
    assert_eq!(before.applied().count(), 0);

    // The bot migrates from a spawned task, so the library's futures must be Send.
    let task = tokio::spawn({
        let db = db.clone();
        async move { db.migrate().await }
    });
    let report = task.await??;
    let applied: Vec<&str> = report
        .applied
        .iter()
        .map(|s| s.migration.version.as_str())
        .collect();
    assert_eq!(applied, VERSIONS);
    assert_eq!(report.current.as_deref(), Some(VERSIONS[5]));

    let after = db.status().await?;
    assert!(after
        .migrations
        .iter()
        .all(|e| e.state == State::Applied && e.applied_at.is_some()));
    assert!(
        db.migrate().await?.applied.is_empty(),
        "a second migrate has nothing to do"
    );

    let schema = db.introspect().await?;
    assert_eq!(bot_tables(&schema), BOT_TABLES);
    for table in BOT_TABLES {
        for column in ["id", "created_at", "updated_at"] {
            let c = schema
                .column(table, column)
                .ok_or(format!("{table}.{column} missing"))?;
            assert!(!c.nullable, "{table}.{column} must be NOT NULL");
        }
        assert!(schema
            .column(table, "created_at")
            .and_then(|c| c.default.as_ref())
            .is_some());
        assert_eq!(
            schema.table(table).expect("table").updated_at.as_deref(),
            Some("updated_at")
        );
    }
    for (table, column) in [
        ("products", "category_id"),
        ("purchases", "user_id"),
        ("purchases", "product_id"),
    ] {
        let fk = schema
            .table(table)
            .expect("table")
            .foreign_keys
            .iter()
            .find(|f| f.columns == [column])
            .ok_or(format!("no foreign key on {table}.{column}"))?;
        assert_eq!(fk.on_delete, OnDelete::Cascade, "{table}.{column}");
        let index = format!("ix_{table}_{column}");
        assert_eq!(
            schema
                .table(table)
                .expect("table")
                .indexes
                .iter()
                .find(|i| i.name == index)
                .map(|i| i.columns.clone()),
            Some(vec![column.to_string()])
        );
    }
    let unique_payment = schema
        .table("purchases")
        .expect("table")
        .uniques
        .iter()
        .any(|u| u.columns == ["payment_id"]);
    assert!(unique_payment, "payment_id must be unique");
    assert!(
        !schema
            .column("products", "hidden_content")
            .ok_or("hidden_content")?
            .nullable
    );
    assert!(schema
        .column("products", "hidden_content")
        .and_then(|c| c.default.as_ref())
        .is_none());
    Ok(())
}

async fn status_never_writes(t: TestDb) -> TestResult {
    let db = t.connect().await;
    let status = db.status().await?;
    assert_eq!(status.pending().count(), VERSIONS.len());
    let tables = botdb::with_connection!(db.pool(), |conn| {
        use botdb::Introspect;
        conn.tables().await?
    });
    assert!(tables.is_empty(), "status created {tables:?}");
    Ok(())
}

async fn revert_all_leaves_no_bot_tables(t: TestDb) -> TestResult {
    let db = t.connect().await;
    db.migrate().await?;
    insert_batch(&db, VERSIONS.len(), 1).await?;
    let report = db.revert(&RevertTarget::All, &mut |_| {}).await?;
    assert_eq!(report.reverted.len(), VERSIONS.len());
    assert_eq!(report.current, None);
    assert!(bot_tables(&db.introspect().await?).is_empty());
    assert_eq!(db.status().await?.pending().count(), VERSIONS.len());
    Ok(())
}

/// Walks the history one step at a time with rows in every table. At each step: up,
/// down (schema and rows exactly as before), up again (schema exactly as after the first
/// up), then insert another batch of rows shaped for that step.
async fn history_walk_keeps_every_row(t: TestDb) -> TestResult {
    let db = t.connect().await;
    for (i, version) in VERSIONS.iter().enumerate() {
        let (schema_before, rows_before) = (db.introspect().await?, row_counts(&db).await?);
        db.migrate_with(Some(version), &mut |_| {}).await?;
        let (schema_after, rows_after) = (db.introspect().await?, row_counts(&db).await?);

        db.revert(&RevertTarget::Steps(1), &mut |_| {}).await?;
        assert_eq!(
            db.introspect().await?,
            schema_before,
            "down of {version} must restore the schema"
        );
        assert_eq!(
            row_counts(&db).await?,
            rows_before,
            "down of {version} lost or added rows"
        );

        db.migrate_with(Some(version), &mut |_| {}).await?;
        assert_eq!(
            db.introspect().await?,
            schema_after,
            "up after down of {version} differs"
        );
        assert_eq!(
            row_counts(&db).await?,
            rows_after,
            "redo of {version} lost or added rows"
        );

        insert_batch(&db, i + 1, i as i64 + 1).await?;
    }

    let batches = VERSIONS.len() as i64;
    assert_eq!(
        row_counts(&db).await?,
        vec![batches, batches, batches, 2 * batches]
    );
    // The fills: only rows older than a column get the fill value.
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM products WHERE hidden_content = ''"
        )
        .await?,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM purchases WHERE payment_id = CONCAT('legacy-', id)"
        )
        .await?,
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM purchases WHERE payment_type = 'unknown'"
        )
        .await?,
        3
    );
    if t.backend == botdb::Backend::Sqlite {
        assert_eq!(
            count(&db, "SELECT COUNT(*) AS n FROM pragma_foreign_key_check").await?,
            0
        );
    }
    let stages: Vec<usize> = (1..=VERSIONS.len()).collect();
    check_content(&db, &stages).await
}

//! The declared model (src/model/bot.rs) is the one source of the schema: the migration
//! history ends exactly at it on every backend, the three trees hold one history,
//! src/schema.rs is its printout, and `check` compares a live database with it using
//! nothing but reads.

use botdb::introspect::compare::{compare_names, compare_with, Strictness};
use botdb::model::{self, Schema};
use botdb::Backend;

use crate::per_backend;
use crate::support::{
    add_migration, botdb, execute, insert_batch, run_botdb, run_url, TestDb, TestResult, VERSIONS,
};

per_backend!(history_ends_at_the_declared_model);
per_backend!(postgres, mysql; check_works_for_a_read_only_role);

/// `schema` in a canonical order, without what the catalogue cannot hold (the tables'
/// doc comments) and without the names `live` does not know (SQLite's unnamed
/// constraints), so that equality means the same schema.
fn settled(schema: &Schema, live: &Schema) -> Schema {
    let mut s = schema.clone();
    s.tables.sort_by(|a, b| a.name.cmp(&b.name));
    for t in &mut s.tables {
        t.doc = None;
        let Some(l) = live.table(&t.name) else {
            continue;
        };
        for u in &mut t.uniques {
            if l.uniques
                .iter()
                .any(|x| x.columns == u.columns && !x.is_named())
            {
                u.name.clear();
            }
        }
        for f in &mut t.foreign_keys {
            if l.foreign_keys
                .iter()
                .any(|x| x.columns == f.columns && !x.is_named())
            {
                f.name.clear();
            }
        }
        t.uniques.sort();
        t.indexes.sort();
        t.foreign_keys.sort();
    }
    s
}

async fn history_ends_at_the_declared_model(t: TestDb) -> TestResult {
    let db = t.connect().await;
    // Rows at every step: the history is walked as a real database would be.
    for (step, version) in VERSIONS.iter().enumerate() {
        db.migrate_with(Some(version), &mut |_| {}).await?;
        insert_batch(&db, step + 1, step as i64).await?;
    }
    let live = db.introspect().await?;
    let declared = model::bot::schema();
    let strict = compare_with(&declared, &live, None, Strictness::Model);
    assert!(strict.is_empty(), "{}: {strict:#?}", t.backend);
    let names = compare_names(&declared, &live, None);
    assert!(names.is_empty(), "{}: {names:#?}", t.backend);
    assert_eq!(
        settled(&live, &live),
        settled(&declared, &live),
        "{}",
        t.backend
    );
    if t.backend != Backend::Sqlite {
        // The servers keep every name: nothing was left out above.
        let unnamed = live.tables.iter().any(|t| {
            t.uniques.iter().any(|u| !u.is_named()) || t.foreign_keys.iter().any(|f| !f.is_named())
        });
        assert!(!unnamed, "{live:#?}");
    }
    // check agrees, with rows in every table.
    let (code, out, err) = run_url(&t.url, &["check"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out.trim_end(),
        format!("no drift: 0 differences at {}", VERSIONS[5])
    );
    Ok(())
}

/// A role that may only SELECT: `check` still works (it creates nothing), and reports
/// drift the owner made.
async fn check_works_for_a_read_only_role(t: TestDb) -> TestResult {
    let db = t.connect().await;
    db.migrate().await?;
    let role = format!("ro_{}", t.name());
    let reader = match t.backend {
        Backend::Postgres => {
            t.admin(&format!("CREATE ROLE {role} LOGIN")).await;
            execute(
                &db,
                &format!(
                    "GRANT USAGE ON SCHEMA public TO {role}; \
                     GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"
                ),
            )
            .await?;
            let mut url = url::Url::parse(&t.url)?;
            url.set_username(&role).map_err(|()| "username")?;
            url.to_string()
        }
        _ => {
            t.admin(&format!("CREATE USER '{role}'@'%'")).await;
            t.admin(&format!("GRANT SELECT ON {}.* TO '{role}'@'%'", t.name()))
                .await;
            let mut url = url::Url::parse(&t.url)?;
            url.set_username(&role).map_err(|()| "username")?;
            url.to_string()
        }
    };
    // Run apart, so that a failed assertion still drops the role below.
    let owner = db.clone();
    let outcome = tokio::spawn(async move {
        let db = owner;
        // The role really cannot write.
        let denied = execute(
            &botdb::Database::connect(&reader).await?,
            "CREATE TABLE not_allowed (id INTEGER)",
        )
        .await;
        assert!(denied.is_err(), "the read-only role could create a table");

        let (code, out, err) = run_url(&reader, &["check"]);
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(err.is_empty(), "{err}");
        assert_eq!(
            out.trim_end(),
            format!("no drift: 0 differences at {}", VERSIONS[5])
        );

        execute(&db, "ALTER TABLE purchases DROP COLUMN payment_type").await?;
        let (code, out, err) = run_url(&reader, &["check", "--json"]);
        assert_eq!(code, Some(1), "{out}{err}");
        let json: serde_json::Value = serde_json::from_str(&out)?;
        assert_eq!(json["drift"], true, "{json}");
        assert_eq!(json["up_to_date"], true, "{json}");
        assert_eq!(
            json["report"]["differences"][0]["detail"], "column payment_type missing",
            "{json}"
        );
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    })
    .await;
    match t.backend {
        Backend::Postgres => {
            execute(&db, &format!("DROP OWNED BY {role}")).await?;
            drop(db);
            t.admin(&format!("DROP ROLE {role}")).await;
        }
        _ => t.admin(&format!("DROP USER '{role}'@'%'")).await,
    }
    match outcome {
        Ok(result) => result,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Every tree holds the same migrations, under the same folder names.
#[test]
fn the_three_trees_hold_one_history() -> TestResult {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let names = |b: Backend| -> std::io::Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(root.join(b.name()))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()?;
        names.sort();
        Ok(names)
    };
    let sqlite = names(Backend::Sqlite)?;
    assert_eq!(sqlite.len(), VERSIONS.len());
    assert_eq!(names(Backend::Postgres)?, sqlite);
    assert_eq!(names(Backend::Mysql)?, sqlite);
    Ok(())
}

/// `status` warns, in one line on stderr, when the tree it reads lacks a migration a
/// sibling tree has, and still reports as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_warns_when_its_tree_lacks_a_migration() -> TestResult {
    let t = TestDb::create(Backend::Sqlite).await.ok_or("sqlite")?;
    t.connect().await.migrate().await?;
    let root = t.scratch_dir().join("trees");
    for b in Backend::ALL {
        crate::support::copy_migrations(b, &root.join("tmp"))?;
        std::fs::rename(root.join("tmp").join("migrations"), root.join(b.name()))?;
    }
    let extra = "2030-01-01-000000_add_coupons";
    add_migration(
        &root.join("postgres"),
        extra,
        "CREATE TABLE coupons (id INTEGER PRIMARY KEY);\n",
        "DROP TABLE coupons;\n",
        None,
    )?;
    for dir in [root.clone(), root.join("sqlite")] {
        let (code, out, err) = run_botdb(&t.url, &dir, &["status"]);
        assert_eq!(code, Some(0), "{err}");
        assert!(out.contains("6 applied, 0 pending"), "{out}");
        let warnings: Vec<&str> = err.lines().collect();
        assert_eq!(warnings.len(), 1, "{err}");
        assert!(
            warnings[0].contains(&format!(
                "the sqlite migrations lack {extra}, which the postgres migrations have"
            )),
            "{err}"
        );
    }
    // The tree that has it, and a folder that is no tree of three, say nothing.
    let postgres = botdb::Source::Dir(root.join("postgres"));
    assert_eq!(
        botdb::ops::trees::missing_versions(&postgres, Backend::Postgres),
        vec![]
    );
    let lone = crate::support::copy_migrations(Backend::Sqlite, &t.scratch_dir())?;
    let (code, _, err) = run_botdb(&t.url, &lone, &["status"]);
    assert_eq!((code, err.as_str()), (Some(0), ""));
    // The embedded trees agree.
    let (code, _, err) = run_url(&t.url, &["status"]);
    assert_eq!((code, err.as_str()), (Some(0), ""));
    Ok(())
}

/// src/schema.rs is exactly what `botdb print-schema` prints from the model.
#[test]
fn schema_rs_is_the_printed_model() -> TestResult {
    let out = botdb().arg("print-schema").output()?;
    assert_eq!(out.status.code(), Some(0));
    let printed = String::from_utf8(out.stdout)?;
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/schema.rs"),
    )?;
    assert!(
        printed == committed,
        "src/schema.rs differs from `botdb print-schema`; run `botdb print-schema > src/schema.rs`\n{printed}"
    );
    assert_eq!(printed, model::schema_rs::schema_rs(&model::bot::schema()));
    Ok(())
}

/// diesel_cli must not regenerate src/schema.rs (it would drop the docs, turn Varchar
/// into Text, and write MySQL's Datetime).
#[test]
fn diesel_toml_leaves_schema_rs_alone() -> TestResult {
    let toml = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("diesel.toml"),
    )?;
    let settings: Vec<String> = toml
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").replace(' ', ""))
        .collect();
    assert!(
        !settings.iter().any(|l| l == "file=\"src/schema.rs\""),
        "{toml}"
    );
    Ok(())
}

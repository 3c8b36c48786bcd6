//! `botdb generate` and `botdb new`: a table of model changes, one per kind generate
//! handles, each generated against a test copy of the model, applied over tables that hold
//! rows on the three real backends, compared with the new model, reverted and compared with
//! the old one; the refusals, which write nothing; and the committed snapshot.

use std::path::{Path, PathBuf};

use botdb::introspect::compare::{compare_with, Strictness};
use botdb::model::diff::{Options, Rename};
use botdb::model::{self, Column, ColumnType, Default as D, OnDelete, Schema, Table};
use botdb::ops::generate::{
    generate, plan, read_snapshot_file, record, snapshot_path, Outcome, Recording,
};
use botdb::Source;

use crate::per_backend;
use crate::support::{
    botdb, check_content, count, execute, insert_batch, outcome, recorded_versions, row_counts,
    run_botdb, TestDb, TestResult, VERSIONS,
};

/// botdb with `--migrations-dir ROOT`.
fn in_tree(root: impl AsRef<std::ffi::OsStr>) -> assert_cmd::Command {
    let mut command = botdb();
    command.arg("--migrations-dir").arg(root);
    command
}

/// The repository's migrations (three trees and model.toml) copied to `dir/migrations`.
fn copy_tree(dir: &Path) -> std::io::Result<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let root = dir.join("migrations");
    for backend in ["sqlite", "postgres", "mysql"] {
        for entry in std::fs::read_dir(source.join(backend))? {
            let entry = entry?;
            let target = root.join(backend).join(entry.file_name());
            std::fs::create_dir_all(&target)?;
            for file in ["up.sql", "down.sql"] {
                std::fs::copy(entry.path().join(file), target.join(file))?;
            }
        }
    }
    std::fs::copy(source.join("model.toml"), root.join("model.toml"))?;
    Ok(root)
}

/// Every file under `dir`, relative, sorted: what a refused run must leave as it was.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if let Ok(rel) = path.strip_prefix(base) {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                out.push(format!("{} {}", rel.display(), text.len()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn table<'a>(schema: &'a mut Schema, name: &str) -> &'a mut Table {
    schema
        .table_mut(name)
        .unwrap_or_else(|| panic!("the test model has a table {name}"))
}

fn column<'a>(schema: &'a mut Schema, t: &str, c: &str) -> &'a mut Column {
    table(schema, t)
        .columns
        .iter_mut()
        .find(|x| x.name == c)
        .unwrap_or_else(|| panic!("the test model has {t}.{c}"))
}

/// One generated migration: the model it ends at and the flags it was generated with.
struct Step {
    model: Schema,
    options: Options,
}

/// One kind of change. Earlier steps only set the stage (e.g. add the index a later step
/// drops); the last one is the change under test.
struct Case {
    name: &'static str,
    steps: Vec<Step>,
    /// Whether every row and value survives the change and its revert.
    keeps_data: bool,
    /// A query (one column `n`) and its value after the change: that data moved as meant.
    probe: Option<(&'static str, i64)>,
}

fn step(model: Schema) -> Step {
    Step {
        model,
        options: Options::default(),
    }
}

fn destructive(model: Schema) -> Step {
    Step {
        model,
        options: Options {
            allow_destructive: true,
            ..Options::default()
        },
    }
}

fn fill(model: Schema, table: &str, column: &str, sql: &str) -> Step {
    let mut options = Options::default();
    options
        .fills
        .insert((table.to_string(), column.to_string()), sql.to_string());
    Step { model, options }
}

/// The test copy of the model: the head of the history, changed by each case.
fn base() -> Schema {
    model::bot::schema()
}

fn changed(change: impl FnOnce(&mut Schema)) -> Schema {
    let mut s = base();
    change(&mut s);
    s
}

fn cases() -> Vec<Case> {
    let coupons = Table::new("coupons")
        .column_def(Column::new("id", ColumnType::Integer).auto_increment())
        .column_def(Column::new("code", ColumnType::Varchar))
        .column_def(Column::new("percent", ColumnType::Integer).default(D::Integer(10)))
        .column_def(Column::new("product_id", ColumnType::Integer).nullable())
        .column_def(Column::new("created_at", ColumnType::Timestamp).default(D::Now))
        .column_def(Column::new("updated_at", ColumnType::Timestamp).default(D::Now))
        .primary_key(&["id"])
        .unique("uq_coupons_code", &["code"])
        .index("ix_coupons_product_id", &["product_id"])
        .foreign_key(
            "coupons_product_id_fkey",
            "product_id",
            "products",
            OnDelete::SetNull,
        )
        .maintain_updated_at("updated_at");
    let with_username_index = changed(|s| {
        table(s, "users").indexes.push(model::Index {
            name: "ix_users_username".into(),
            columns: vec!["username".into()],
        })
    });
    vec![
        Case {
            name: "add_table",
            steps: vec![step(changed(|s| s.tables.push(coupons)))],
            keeps_data: true,
            probe: Some(("SELECT COUNT(*) AS n FROM coupons", 0)),
        },
        Case {
            name: "drop_table",
            steps: vec![destructive(changed(|s| {
                s.tables.retain(|t| t.name != "purchases")
            }))],
            keeps_data: false,
            probe: None,
        },
        Case {
            name: "add_nullable_column",
            steps: vec![step(changed(|s| {
                table(s, "users")
                    .columns
                    .push(Column::new("email", ColumnType::Varchar).nullable())
            }))],
            keeps_data: true,
            probe: Some(("SELECT COUNT(*) AS n FROM users WHERE email IS NULL", 4)),
        },
        Case {
            name: "add_not_null_column_with_default",
            steps: vec![step(changed(|s| {
                table(s, "categories")
                    .columns
                    .push(Column::new("position", ColumnType::Integer).default(D::Integer(7)))
            }))],
            keeps_data: true,
            probe: Some(("SELECT COUNT(*) AS n FROM categories WHERE position = 7", 2)),
        },
        Case {
            name: "drop_updated_at_with_its_upkeep",
            steps: vec![destructive(changed(|s| {
                let t = table(s, "categories");
                t.columns.retain(|c| c.name != "updated_at");
                t.updated_at = None;
            }))],
            keeps_data: false,
            probe: Some(("SELECT COUNT(*) AS n FROM categories", 2)),
        },
        Case {
            name: "add_text_column_with_text_default",
            steps: vec![step(changed(|s| {
                table(s, "categories").columns.push(
                    Column::new("blurb", ColumnType::Text).default(D::Text("none yet".into())),
                )
            }))],
            keeps_data: true,
            probe: Some((
                "SELECT COUNT(*) AS n FROM categories WHERE blurb = 'none yet'",
                2,
            )),
        },
        Case {
            name: "add_not_null_column_with_fill",
            steps: vec![fill(
                changed(|s| {
                    table(s, "products")
                        .columns
                        .push(Column::new("stock", ColumnType::Integer))
                }),
                "products",
                "stock",
                "price / 100",
            )],
            keeps_data: true,
            probe: Some(("SELECT SUM(stock) AS n FROM products", 3)),
        },
        Case {
            name: "drop_column",
            // A middle column: the revert puts it back in its place on SQLite and MySQL;
            // PostgreSQL can only append it, which verify accepts there.
            steps: vec![destructive(changed(|s| {
                table(s, "products").columns.retain(|c| c.name != "file_id")
            }))],
            keeps_data: false,
            probe: None,
        },
        Case {
            name: "rename_column",
            steps: vec![Step {
                model: changed(|s| column(s, "users", "username").name = "handle".into()),
                options: Options {
                    renames: vec![Rename {
                        table: "users".into(),
                        from: "username".into(),
                        to: "handle".into(),
                    }],
                    ..Options::default()
                },
            }],
            keeps_data: true,
            probe: Some(("SELECT COUNT(*) AS n FROM users WHERE handle = 'user_2'", 1)),
        },
        // products is a parent (purchases references it): on SQLite both are rebuilt.
        Case {
            name: "make_not_null",
            steps: vec![fill(
                changed(|s| column(s, "products", "file_id").nullable = false),
                "products",
                "file_id",
                "'none'",
            )],
            keeps_data: false,
            probe: Some((
                "SELECT COUNT(*) AS n FROM products WHERE file_id = 'none'",
                2,
            )),
        },
        // No --fill: the declared default fills the NULLs (never the type's zero).
        Case {
            name: "make_not_null_with_its_default",
            steps: vec![step(changed(|s| {
                let file_id = column(s, "products", "file_id");
                file_id.nullable = false;
                file_id.default = Some(D::Text("none yet".into()));
            }))],
            keeps_data: false,
            probe: Some((
                "SELECT COUNT(*) AS n FROM products WHERE file_id = 'none yet'",
                2,
            )),
        },
        Case {
            name: "make_nullable",
            steps: vec![step(changed(|s| {
                column(s, "purchases", "payment_type").nullable = true
            }))],
            keeps_data: true,
            probe: Some((
                "SELECT COUNT(*) AS n FROM purchases WHERE payment_type = 'card'",
                2,
            )),
        },
        Case {
            name: "widen_type",
            steps: vec![step(changed(|s| {
                column(s, "purchases", "price").ty = ColumnType::BigInt
            }))],
            keeps_data: true,
            probe: Some(("SELECT COUNT(*) AS n FROM purchases WHERE price = 201", 1)),
        },
        Case {
            name: "narrow_type",
            steps: vec![destructive(changed(|s| {
                column(s, "products", "description").ty = ColumnType::Varchar
            }))],
            keeps_data: true,
            probe: Some((
                "SELECT COUNT(*) AS n FROM products WHERE description = 'About 2'",
                1,
            )),
        },
        Case {
            name: "change_default",
            steps: vec![step(changed(|s| {
                column(s, "categories", "category_name").default = Some(D::Text("misc".into()))
            }))],
            keeps_data: true,
            probe: None,
        },
        Case {
            name: "add_index",
            steps: vec![step(with_username_index.clone())],
            keeps_data: true,
            probe: None,
        },
        Case {
            name: "drop_index",
            steps: vec![step(with_username_index), step(base())],
            keeps_data: true,
            probe: None,
        },
        Case {
            // MySQL needs an index under a foreign key: the key is dropped around it.
            name: "rename_an_index_a_foreign_key_uses",
            steps: vec![step(changed(|s| {
                for i in &mut table(s, "purchases").indexes {
                    if i.name == "ix_purchases_user_id" {
                        i.name = "ix_purchases_buyer".into();
                    }
                }
            }))],
            keeps_data: true,
            probe: None,
        },
        Case {
            name: "add_unique",
            steps: vec![step(changed(|s| {
                table(s, "categories").uniques.push(model::Unique {
                    name: "uq_categories_category_name".into(),
                    columns: vec!["category_name".into()],
                })
            }))],
            keeps_data: true,
            probe: None,
        },
        Case {
            name: "drop_unique",
            steps: vec![step(changed(|s| table(s, "purchases").uniques.clear()))],
            keeps_data: true,
            probe: None,
        },
        Case {
            name: "add_foreign_key",
            steps: vec![step(changed(|s| {
                let products = table(s, "products");
                products
                    .columns
                    .push(Column::new("seller_id", ColumnType::Integer).nullable());
                products.indexes.push(model::Index {
                    name: "ix_products_seller_id".into(),
                    columns: vec!["seller_id".into()],
                });
                products.foreign_keys.push(model::ForeignKey {
                    name: "products_seller_id_fkey".into(),
                    columns: vec!["seller_id".into()],
                    references: "users".into(),
                    referenced_columns: vec!["id".into()],
                    on_delete: OnDelete::SetNull,
                });
            }))],
            keeps_data: true,
            probe: Some((
                "SELECT COUNT(*) AS n FROM products WHERE seller_id IS NULL",
                2,
            )),
        },
        Case {
            name: "drop_foreign_key",
            steps: vec![step(changed(|s| {
                table(s, "purchases")
                    .foreign_keys
                    .retain(|f| f.name != "purchases_user_id_fkey")
            }))],
            keeps_data: true,
            probe: None,
        },
        // categories is the root of categories <- products <- purchases: SQLite rebuilds all three.
        Case {
            name: "change_on_delete",
            steps: vec![step(changed(|s| {
                table(s, "products").foreign_keys[0].on_delete = OnDelete::NoAction
            }))],
            keeps_data: true,
            probe: None,
        },
    ]
}

/// What the live schema lacks or has beyond `model`, over the tables of `model` and
/// `other` (so a table that should be gone is seen too), to the model's full strictness.
async fn differences(
    db: &botdb::Database,
    model: &Schema,
    other: &Schema,
) -> Result<Vec<String>, botdb::Error> {
    let live = db.introspect().await?;
    let tables: Vec<&str> = model
        .table_names()
        .into_iter()
        .chain(other.table_names())
        .collect();
    Ok(compare_with(model, &live, Some(&tables), Strictness::Model)
        .iter()
        .map(|d| d.to_string())
        .collect())
}

/// Deletes every row and inserts two batches, as the history's head holds them.
async fn reseed(db: &botdb::Database) -> TestResult {
    execute(db, "DELETE FROM purchases").await?;
    execute(db, "DELETE FROM products").await?;
    execute(db, "DELETE FROM categories").await?;
    execute(db, "DELETE FROM users").await?;
    for batch in 1..=2 {
        insert_batch(db, VERSIONS.len(), batch).await?;
    }
    Ok(())
}

fn botdb_ok(db: &TestDb, root: &Path, args: &[&str]) -> Result<String, String> {
    let (code, stdout, stderr) = run_botdb(&db.url, root, args);
    if code == Some(0) {
        Ok(stdout)
    } else {
        Err(format!("botdb {args:?} exited {code:?}: {stderr}"))
    }
}

async fn one_case(db: &TestDb, case: &Case) -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = copy_tree(dir.path())?;
    let database = db.connect().await;
    reseed(&database).await?;
    let rows_before = row_counts(&database).await?;

    for (i, s) in case.steps.iter().enumerate() {
        let name = format!("{}_{i}", case.name);
        let now = chrono::Utc::now().naive_utc();
        match generate(&root, &name, &s.model, &s.options, now)? {
            Outcome::Written { .. } => {}
            Outcome::NothingToChange => return Err(format!("{name}: nothing generated").into()),
        }
    }
    botdb_ok(db, &root, &["migrate"])?;
    let database = db.connect().await;
    let rows_after = row_counts(&database).await?;
    if case.keeps_data {
        assert_eq!(rows_after, rows_before, "rows after {}", case.name);
    }
    let (last, previous) = match case.steps.as_slice() {
        [.., previous, last] => (&last.model, previous.model.clone()),
        [last] => (&last.model, base()),
        [] => return Err("a case without steps".into()),
    };
    let after_up = differences(&database, last, &previous).await?;
    assert!(
        after_up.is_empty(),
        "after applying {}: {after_up:?}",
        case.name
    );
    if let Some((sql, expected)) = case.probe {
        assert_eq!(count(&database, sql).await?, expected, "{sql}");
    }

    botdb_ok(db, &root, &["revert", "--yes"])?;
    let after_down = differences(&database, &previous, last).await?;
    assert!(
        after_down.is_empty(),
        "after reverting {}: {after_down:?}",
        case.name
    );
    if case.keeps_data {
        assert_eq!(
            row_counts(&database).await?,
            rows_before,
            "rows after reverting {}",
            case.name
        );
        if case.steps.len() == 1 {
            check_content(&database, &[VERSIONS.len(), VERSIONS.len()]).await?;
        }
    }
    let steps = (case.steps.len() - 1).to_string();
    if case.steps.len() > 1 {
        botdb_ok(db, &root, &["revert", "--yes", "--steps", &steps])?;
    }
    let at_base = differences(&database, &base(), last).await?;
    assert!(
        at_base.is_empty(),
        "back at the head after {}: {at_base:?}",
        case.name
    );

    let report = botdb::ops::check::verify(database.url(), &Source::Dir(root.clone())).await?;
    // verify ends by comparing with the bot's model, which a test model differs from on
    // purpose; every up, down and up again must be clean.
    let steps: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.starts_with("after "))
        .collect();
    assert!(steps.is_empty(), "verify {}: {steps:?}", case.name);
    Ok(())
}

async fn every_change_applies_and_reverts_over_rows(db: TestDb) -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = copy_tree(dir.path())?;
    botdb_ok(&db, &root, &["migrate"])?;
    for case in cases() {
        if let Err(e) = one_case(&db, &case).await {
            return Err(format!("{}: {e}", case.name).into());
        }
    }
    Ok(())
}

per_backend!(every_change_applies_and_reverts_over_rows);

/// The snapshot generate starts from is what the history produces on a real database.
async fn the_history_ends_at_the_snapshot(db: TestDb) -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = copy_tree(dir.path())?;
    botdb_ok(&db, &root, &["migrate"])?;
    let snapshot = botdb::ops::generate::read_snapshot(&root)?;
    let found = differences(&db.connect().await, &snapshot, &Schema::default()).await?;
    assert!(found.is_empty(), "{found:?}");
    Ok(())
}

per_backend!(the_history_ends_at_the_snapshot);

#[test]
fn the_snapshot_is_the_bot_model() -> TestResult {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let snapshot = read_snapshot_file(&root)?;
    assert_eq!(snapshot.schema, model::bot::schema());
    // Recorded at the newest migration: generate refuses a snapshot that steps follow.
    let newest = botdb::ops::new::existing_folders(&root)?;
    assert_eq!(snapshot.head.as_ref(), newest.last());
    Ok(())
}

#[test]
fn generate_for_the_bot_model_without_a_change_writes_nothing_and_exits_1() -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = copy_tree(dir.path())?;
    let before = files_under(&root);
    let out = in_tree(&root).args(["generate", "nothing"]).output()?;
    let (code, stdout, _) = outcome(&out);
    assert_eq!(code, Some(1));
    assert!(stdout.starts_with("nothing to change"), "{stdout}");
    assert_eq!(files_under(&root), before);

    let out = in_tree(&root)
        .args(["--format", "json", "generate", "nothing"])
        .output()?;
    let (code, stdout, _) = outcome(&out);
    assert_eq!(code, Some(1));
    let doc: serde_json::Value = serde_json::from_str(&stdout)?;
    assert_eq!(doc["changed"], serde_json::Value::Bool(false), "{stdout}");
    assert_eq!(files_under(&root), before);
    Ok(())
}

#[test]
fn new_creates_six_files_with_headers_and_refuses_a_bad_name() -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = copy_tree(dir.path())?;
    let root_arg = root.display().to_string();
    let before = files_under(&root);
    let out = in_tree(&root_arg).args(["new", "Add-Coupons"]).output()?;
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!((code, stdout.as_str()), (Some(2), ""));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("`Add-Coupons` may hold only a-z, 0-9 and _"),
        "{stderr}"
    );
    assert_eq!(files_under(&root), before);

    let out = in_tree(&root_arg).args(["new", "add_coupons"]).output()?;
    let (code, stdout, _) = outcome(&out);
    assert_eq!(code, Some(0));
    let paths: Vec<&str> = stdout.lines().collect();
    assert_eq!(paths.len(), 6, "{stdout}");
    let newest = VERSIONS.iter().max().copied().unwrap_or_default();
    for (path, tree) in paths
        .iter()
        .zip(["sqlite", "sqlite", "postgres", "postgres", "mysql", "mysql"])
    {
        let text = std::fs::read_to_string(path)?;
        let folder = Path::new(path)
            .parent()
            .and_then(|p| p.file_name())
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            folder.ends_with("_add_coupons") && folder.replace('-', "").as_str() > newest,
            "{folder}"
        );
        assert!(path.contains(&format!("/{tree}/")), "{path}");
        assert!(
            text.starts_with(&format!("-- botdb migration {folder} ({tree})\n")),
            "{text}"
        );
    }
    // A second one in the same second still gets a later version.
    let out = in_tree(&root_arg).args(["new", "add_more"]).output()?;
    let (_, again, _) = outcome(&out);
    assert!(
        again.lines().next().unwrap_or_default() > paths[0],
        "{again}"
    );

    // --migrations-dir naming one backend's tree writes into all three, and
    // --format json lists the six files.
    let out = in_tree(root.join("sqlite"))
        .args(["--format", "json", "new", "add_json"])
        .output()?;
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout)?;
    let created: Vec<&str> = doc["created"]
        .as_array()
        .ok_or("no created list")?
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert_eq!(created.len(), 6, "{stdout}");
    for (path, tree) in created
        .iter()
        .zip(["sqlite", "sqlite", "postgres", "postgres", "mysql", "mysql"])
    {
        assert!(path.starts_with(&root_arg), "{path}");
        assert!(path.contains(&format!("/{tree}/")), "{path}");
        assert!(Path::new(path).is_file(), "{path}");
    }
    Ok(())
}

fn refused(args: &[&str], model: &Schema, options: &Options, expected: &str) -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = copy_tree(dir.path())?;
    let before = files_under(&root);
    let now = chrono::Utc::now().naive_utc();
    match generate(&root, "change", model, options, now) {
        Ok(outcome) => return Err(format!("{args:?}: generated {outcome:?}").into()),
        Err(e) => assert!(e.to_string().contains(expected), "{e}"),
    }
    assert_eq!(files_under(&root), before);
    Ok(())
}

#[test]
fn a_not_null_column_without_fill_or_default_is_refused_and_nothing_written() -> TestResult {
    let model = changed(|s| {
        table(s, "users")
            .columns
            .push(Column::new("email", ColumnType::Varchar))
    });
    refused(
        &[],
        &model,
        &Options::default(),
        "pass --fill users.email=SQL",
    )
}

#[test]
fn a_destructive_change_without_the_flag_is_refused_and_nothing_written() -> TestResult {
    let model = changed(|s| table(s, "users").columns.retain(|c| c.name != "last_name"));
    refused(
        &[],
        &model,
        &Options::default(),
        "drop column users.last_name",
    )?;
    let model = changed(|s| s.tables.retain(|t| t.name != "purchases"));
    refused(&[], &model, &Options::default(), "drop table purchases")?;
    let model = changed(|s| column(s, "products", "description").ty = ColumnType::Varchar);
    refused(
        &[],
        &model,
        &Options::default(),
        "narrow products.description",
    )
}

/// The CLI's refusals: one line on stderr, exit 2, nothing written.
#[test]
fn cli_refusals_are_one_line_exit_2_and_write_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = copy_tree(dir.path())?;
    let before = files_under(&root);
    for (args, expected) in [
        (vec!["generate", "Bad Name"], "may hold only a-z, 0-9 and _"),
        (
            vec!["generate", "x", "--fill", "users.nope=1"],
            "--fill users.nope names no column",
        ),
        (
            vec!["generate", "x", "--rename", "users.a=b"],
            "--rename users.a=b does not fit",
        ),
        (
            vec!["generate", "x", "--rename", "nonsense"],
            "expected TABLE.OLD=NEW",
        ),
    ] {
        let out = in_tree(&root).args(&args).output()?;
        let (code, stdout, stderr) = outcome(&out);
        assert_eq!(code, Some(2), "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(files_under(&root), before, "{args:?}");
    }
    Ok(())
}

/// The up.sql of a migration dropping a column says so in a comment, on every backend.
#[test]
fn destructive_steps_are_marked_in_the_sql() -> TestResult {
    let model = changed(|s| table(s, "users").columns.retain(|c| c.name != "last_name"));
    let options = Options {
        allow_destructive: true,
        ..Options::default()
    };
    let plan = botdb::ops::generate::plan(&base(), &model, &options)?.ok_or("no plan")?;
    for (backend, up, down) in &plan.sql {
        assert!(
            up.contains("-- destructive: drops users.last_name and its values"),
            "{backend}: {up}"
        );
        assert!(!down.contains("destructive"), "{backend}: {down}");
    }
    assert!(plan
        .decisions
        .contains(&"drop column users.last_name (destructive)".to_string()));
    Ok(())
}

/// Rewrites the copied snapshot with `change` made to its model, as if the history had
/// ended elsewhere.
fn edit_snapshot(root: &Path, change: impl FnOnce(&mut Schema)) -> TestResult {
    let mut snapshot = read_snapshot_file(root)?;
    change(&mut snapshot.schema);
    std::fs::write(snapshot_path(root), model::snapshot::to_toml(&snapshot)?)?;
    Ok(())
}

/// `botdb new NAME` run from the command line: the six paths it printed.
fn botdb_new(
    root: &Path,
    name: &str,
) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let out = in_tree(root).args(["new", name]).output()?;
    let (code, stdout, stderr) = outcome(&out);
    if code != Some(0) {
        return Err(format!("botdb new {name} exited {code:?}: {stderr}").into());
    }
    Ok(stdout.lines().map(str::to_string).collect())
}

/// The migration folder (`<version>_<name>`) a path printed by `new` is in.
fn folder_of(path: &str) -> String {
    Path::new(path)
        .parent()
        .and_then(|p| p.file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn with_language() -> Schema {
    changed(|s| {
        table(s, "users")
            .columns
            .push(Column::new("language", ColumnType::Varchar).nullable())
    })
}

/// A step written by hand (`botdb new`, then SQL typed into its files) is one the snapshot
/// knows nothing of: generate refuses and names `--record-only`; once the model is recorded
/// the history ends at the snapshot on a real database, and generate moves on from there.
async fn a_step_written_by_hand_is_recorded_and_generate_moves_past_it(db: TestDb) -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = copy_tree(dir.path())?;
    let paths = botdb_new(&root, "add_language")?;
    let folder = folder_of(&paths[0]);
    // The SQL typed by hand: for the test, the statements generate would write.
    let language = with_language();
    let by_hand = plan(&base(), &language, &Options::default())?.ok_or("no SQL")?;
    for ((_, up, down), files) in by_hand.sql.iter().zip(paths.chunks(2)) {
        for (body, path) in [up, down].into_iter().zip(files) {
            let text = std::fs::read_to_string(path)?;
            std::fs::write(path, format!("{text}\n{body}"))?;
        }
    }

    let mut indexed = language.clone();
    table(&mut indexed, "users").indexes.push(model::Index {
        name: "ix_users_language".into(),
        columns: vec!["language".into()],
    });
    let before = files_under(&root);
    let now = chrono::Utc::now().naive_utc();
    let refused = generate(&root, "index_language", &indexed, &Options::default(), now)
        .err()
        .ok_or("generate compared with a snapshot a hand-written step came after")?;
    assert_eq!(refused.code(), "history_ahead", "{refused}");
    assert!(
        refused.hint().contains("`botdb generate --record-only`"),
        "{refused}"
    );
    assert!(refused.to_string().contains(&folder), "{refused}");
    assert!(refused.to_string().ends_with(&refused.hint()), "{refused}");
    assert_eq!(files_under(&root), before);

    assert_eq!(
        record(&root, &language)?,
        Recording::Recorded {
            head: Some(folder.clone()),
            changes: vec!["record table users (changed)".into()],
        }
    );
    let snapshot = read_snapshot_file(&root)?;
    assert_eq!(snapshot.head.as_deref(), Some(folder.as_str()));
    assert_eq!(snapshot.schema, language);
    assert_eq!(record(&root, &language)?, Recording::NothingToRecord);

    // The invariant generate relies on still holds: the history ends at the snapshot.
    botdb_ok(&db, &root, &["migrate"])?;
    let database = db.connect().await;
    let found = differences(&database, &snapshot.schema, &Schema::default()).await?;
    assert!(found.is_empty(), "at the hand-written step: {found:?}");

    let written = generate(&root, "index_language", &indexed, &Options::default(), now)?;
    let Outcome::Written { decisions, .. } = written else {
        return Err("nothing generated after recording".into());
    };
    assert_eq!(
        decisions,
        vec!["add index users.ix_users_language".to_string()]
    );
    botdb_ok(&db, &root, &["migrate"])?;
    let found = differences(&database, &indexed, &Schema::default()).await?;
    assert!(found.is_empty(), "after the next generated step: {found:?}");
    botdb_ok(&db, &root, &["revert", "--yes", "--steps", "2"])?;
    let found = differences(&database, &base(), &indexed).await?;
    assert!(found.is_empty(), "reverted to the head: {found:?}");
    Ok(())
}

per_backend!(a_step_written_by_hand_is_recorded_and_generate_moves_past_it);

/// `--record-only` refuses to record a model no migration takes the history to, and a
/// snapshot recorded at a migration that is gone is refused by both.
#[test]
fn record_only_refuses_a_model_no_step_makes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = copy_tree(dir.path())?;
    let now = chrono::Utc::now().naive_utc();
    let Outcome::Written { paths, .. } = generate(
        &root,
        "add_language",
        &with_language(),
        &Options::default(),
        now,
    )?
    else {
        return Err("nothing generated".into());
    };
    let before = files_under(&root);
    let refused = record(&root, &base())
        .err()
        .ok_or("recorded a change no SQL makes")?;
    assert_eq!(refused.code(), "nothing_to_record_at", "{refused}");
    assert!(refused.hint().contains("botdb generate NAME"), "{refused}");
    assert_eq!(files_under(&root), before);

    for path in &paths {
        if let Some(folder) = Path::new(path).parent().filter(|f| f.exists()) {
            std::fs::remove_dir_all(folder)?;
        }
    }
    let before = files_under(&root);
    for refused in [
        record(&root, &base()).err(),
        generate(&root, "again", &base(), &Options::default(), now).err(),
    ] {
        let refused = refused.ok_or("accepted a snapshot ahead of the history")?;
        assert_eq!(refused.code(), "snapshot_ahead", "{refused}");
        assert!(refused.to_string().contains("_add_language"), "{refused}");
    }
    assert_eq!(files_under(&root), before);
    Ok(())
}

/// From the command line: a data step via `new` stops generate (exit 2, code and hint in
/// JSON), `generate --record-only` records the model at it, and generate then finds the
/// model unchanged.
#[test]
fn record_only_on_the_command_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = copy_tree(dir.path())?;
    let root_arg = root.display().to_string();
    let run = |args: &[&str]| -> Result<(Option<i32>, String, String), std::io::Error> {
        let out = in_tree(&root_arg).args(args).output()?;
        Ok(outcome(&out))
    };
    let before = files_under(&root);
    let (code, stdout, _) = run(&["generate", "--record-only"])?;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.starts_with("nothing to record"), "{stdout}");
    let (code, _, stderr) = run(&["generate", "x", "--record-only"])?;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    assert_eq!(files_under(&root), before);

    let folder = folder_of(&botdb_new(&root, "fix_usernames")?[0]);
    let after_new = files_under(&root);
    let (code, stdout, stderr) = run(&["--format", "json", "generate", "next"])?;
    assert_eq!((code, stdout.as_str()), (Some(2), ""), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stderr)?;
    assert_eq!(doc["error"]["code"], "history_ahead", "{stderr}");
    let hint = doc["error"]["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("`botdb generate --record-only`"), "{stderr}");
    let message = doc["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&folder) && message.ends_with(hint),
        "{stderr}"
    );
    assert_eq!(files_under(&root), after_new);

    let (code, stdout, stderr) = run(&["generate", "--record-only"])?;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!(
            "recorded the model in {root_arg}/model.toml at {folder}"
        )),
        "{stdout}"
    );
    let snapshot = read_snapshot_file(&root)?;
    assert_eq!(snapshot.head.as_deref(), Some(folder.as_str()));
    assert_eq!(snapshot.schema, model::bot::schema());
    let (code, stdout, _) = run(&["generate", "next"])?;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.starts_with("nothing to change"), "{stdout}");
    Ok(())
}

#[test]
fn a_column_made_not_null_without_fill_or_default_is_refused_and_nothing_written() -> TestResult {
    let model = changed(|s| column(s, "products", "file_id").nullable = false);
    refused(
        &[],
        &model,
        &Options::default(),
        "column products.file_id is made NOT NULL without a default, so the rows where it holds NULL need a value; nothing was written; declare a default in the model, or pass --fill products.file_id=SQL",
    )?;
    // From the command line, against a history where products.description allowed NULL.
    let dir = tempfile::tempdir()?;
    let root = copy_tree(dir.path())?;
    edit_snapshot(&root, |s| {
        column(s, "products", "description").nullable = true
    })?;
    let before = files_under(&root);
    let out = in_tree(&root).args(["generate", "x"]).output()?;
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!((code, stdout.as_str()), (Some(2), ""), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("products.description is made NOT NULL")
            && stderr.contains("--fill products.description=SQL"),
        "{stderr}"
    );
    assert_eq!(files_under(&root), before);
    Ok(())
}

#[test]
fn a_key_change_names_the_way_to_write_it_by_hand() -> TestResult {
    let model = changed(|s| table(s, "categories").primary_key = vec!["category_name".into()]);
    refused(
        &[],
        &model,
        &Options::default(),
        "write that step by hand with `botdb new NAME`, then record the model with `botdb generate --record-only`",
    )
}

/// `new` and `generate` errors under `--format json`: their own code, and the hint as its
/// own field (not "nothing was written"), which the one-line message ends with.
#[test]
fn new_and_generate_errors_carry_a_code_and_a_hint() -> TestResult {
    type Edit = fn(&mut Schema);
    let cases: Vec<(&[&str], Option<Edit>, &str, &str)> = vec![
        (&["generate", "Bad Name"], None, "bad_name", "use a name such as add_coupons"),
        (&["new", "Bad-Name"], None, "bad_name", "use a name such as add_coupons"),
        (&["generate", "x", "--fill", "users.nope=1"], None, "unused_fill", "check the spelling"),
        (
            &["generate", "x", "--rename", "users.a=b"],
            None,
            "bad_rename",
            "name the table, a column of the old model and the column of the new model that replaces it",
        ),
        (
            &["generate", "x"],
            Some(|s| {
                table(s, "users")
                    .columns
                    .push(Column::new("email", ColumnType::Varchar).nullable())
            }),
            "destructive",
            "pass --allow-destructive if that is intended, or --rename TABLE.OLD=NEW if a column was renamed",
        ),
        (
            &["generate", "x"],
            Some(|s| column(s, "products", "description").nullable = true),
            "missing_fill",
            "declare a default in the model, or pass --fill products.description=SQL (e.g. --fill products.description=0)",
        ),
        (
            &["generate", "x"],
            Some(|s| table(s, "users").primary_key = vec!["telegram_id".into()]),
            "key_change",
            "write that step by hand with `botdb new NAME`, then record the model with `botdb generate --record-only`",
        ),
    ];
    for (args, edit, code, hint) in cases {
        let dir = tempfile::tempdir()?;
        let root = copy_tree(dir.path())?;
        if let Some(edit) = edit {
            edit_snapshot(&root, edit)?;
        }
        let before = files_under(&root);
        let out = in_tree(&root)
            .args(["--format", "json"])
            .args(args)
            .output()?;
        let (exit, stdout, stderr) = outcome(&out);
        assert_eq!((exit, stdout.as_str()), (Some(2), ""), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        let doc: serde_json::Value = serde_json::from_str(&stderr)?;
        assert_eq!(doc["error"]["code"], code, "{args:?}: {stderr}");
        assert_eq!(doc["error"]["hint"], hint, "{args:?}: {stderr}");
        let message = doc["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("nothing was written") && message.ends_with(hint),
            "{args:?}: {stderr}"
        );
        assert_eq!(files_under(&root), before, "{args:?}");
    }

    // A folder without the three trees, and a snapshot that is not a model.
    let empty = tempfile::tempdir()?;
    let out = in_tree(empty.path())
        .args(["--format", "json", "new", "x"])
        .output()?;
    let doc: serde_json::Value = serde_json::from_str(&outcome(&out).2)?;
    assert_eq!(doc["error"]["code"], "migrations_dir");
    let dir = tempfile::tempdir()?;
    let root = copy_tree(dir.path())?;
    std::fs::write(snapshot_path(&root), "tables = 3\n")?;
    let out = in_tree(&root)
        .args(["--format", "json", "generate", "x"])
        .output()?;
    let doc: serde_json::Value = serde_json::from_str(&outcome(&out).2)?;
    assert_eq!(doc["error"]["code"], "snapshot");
    assert_eq!(
        doc["error"]["hint"],
        "restore it from version control (it must describe the schema the migrations end at)"
    );
    Ok(())
}

/// A copy of the trees migrated to the head with rows in every table, and a generated
/// migration pending that makes products.file_id NOT NULL, which SQLite does by rebuilding
/// products (and purchases, which references it). Returns the temp dir that holds the
/// copy, the copy, a connection and the new model.
async fn migrated_with_a_rebuild_pending(
    db: &TestDb,
) -> Result<
    (tempfile::TempDir, PathBuf, botdb::Database, Schema),
    Box<dyn std::error::Error + Send + Sync>,
> {
    let dir = tempfile::tempdir()?;
    let root = copy_tree(dir.path())?;
    botdb_ok(db, &root, &["migrate"])?;
    let database = db.connect().await;
    reseed(&database).await?;
    let model = changed(|s| column(s, "products", "file_id").nullable = false);
    let mut options = Options::default();
    options
        .fills
        .insert(("products".into(), "file_id".into()), "'none'".into());
    generate(
        &root,
        "file_id_required",
        &model,
        &options,
        chrono::Utc::now().naive_utc(),
    )?;
    Ok((dir, root, database, model))
}

/// A table outside the model that references a table SQLite rebuilds, or an index added by
/// hand to one: migrate stops before the rebuild, the database is exactly as before (every
/// row of the outside table too), and the message says what to do. Without them, the same
/// migration applies and the outside table keeps its rows.
async fn a_rebuild_stops_before_losing_what_the_model_does_not_declare(db: TestDb) -> TestResult {
    let (_dir, root, database, model) = migrated_with_a_rebuild_pending(&db).await?;
    let notes_count = "SELECT COUNT(*) AS n FROM notes";

    // `Products`: SQLite's names ignore case, and so does the guard.
    let outside = [
        (
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL REFERENCES Products (id) ON DELETE CASCADE, body TEXT NOT NULL); \
             INSERT INTO notes (product_id, body) SELECT id, 'kept' FROM products",
            "a table outside the declared model, or a foreign key added by hand, references one of products, purchases, which this migration rebuilds on SQLite",
            "DROP TABLE notes; CREATE TABLE notes (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL, body TEXT NOT NULL); \
             INSERT INTO notes (product_id, body) SELECT id, 'kept' FROM products",
        ),
        (
            "CREATE INDEX ix_products_name ON products (name)",
            "one of products, purchases has an index or trigger that is not in the declared model",
            "DROP INDEX ix_products_name",
        ),
    ];
    for (add, expected, remove) in outside {
        execute(&database, add).await?;
        let schema_before = database.introspect().await?;
        let rows_before = (
            row_counts(&database).await?,
            count(&database, notes_count).await?,
        );
        let (code, stdout, stderr) = run_botdb(&db.url, &root, &["migrate"]);
        assert_eq!(code, Some(2), "{add}: {stdout}{stderr}");
        let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
        assert_eq!(errors, 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(stderr.contains("nothing was changed"), "{stderr}");
        let database = db.connect().await;
        assert_eq!(database.introspect().await?, schema_before, "{add}");
        assert_eq!(
            (
                row_counts(&database).await?,
                count(&database, notes_count).await?
            ),
            rows_before,
            "{add}"
        );
        assert_eq!(
            recorded_versions(&database).await?.len(),
            VERSIONS.len(),
            "{add}"
        );
        execute(&database, remove).await?;
    }

    let before = count(&database, notes_count).await?;
    botdb_ok(&db, &root, &["migrate"])?;
    let database = db.connect().await;
    assert_eq!(count(&database, notes_count).await?, before);
    let found = differences(&database, &model, &Schema::default()).await?;
    assert!(found.is_empty(), "{found:?}");
    Ok(())
}

/// A foreign key added by hand to a table in the model that the rebuild leaves alone
/// (categories, when products is rebuilt) stops it too: dropping the old products table
/// would cascade into categories.
async fn a_rebuild_stops_for_a_foreign_key_added_by_hand(db: TestDb) -> TestResult {
    let (_dir, root, database, _) = migrated_with_a_rebuild_pending(&db).await?;
    execute(
        &database,
        "ALTER TABLE categories ADD COLUMN featured INTEGER REFERENCES products (id) ON DELETE CASCADE; \
         UPDATE categories SET featured = (SELECT MIN(id) FROM products)",
    )
    .await?;
    let schema_before = database.introspect().await?;
    let rows_before = row_counts(&database).await?;
    assert!(count(&database, "SELECT COUNT(*) AS n FROM categories").await? > 0);
    let (code, stdout, stderr) = run_botdb(&db.url, &root, &["migrate"]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("a foreign key added by hand, references one of products, purchases"),
        "{stderr}"
    );
    let database = db.connect().await;
    assert_eq!(database.introspect().await?, schema_before);
    assert_eq!(row_counts(&database).await?, rows_before);
    assert_eq!(recorded_versions(&database).await?.len(), VERSIONS.len());
    Ok(())
}

per_backend!(sqlite;
    a_rebuild_stops_before_losing_what_the_model_does_not_declare,
    a_rebuild_stops_for_a_foreign_key_added_by_hand
);

//! The two migration sets, SQLite's and PostgreSQL's, end in the same schema: the same tables,
//! the same columns in each, and the same indexes (name, table, columns in order, unique or not).
//! A migration added to one folder and forgotten in the other fails here (issue 19).

use std::collections::BTreeSet;

use sqlx::Row;

use crate::helpers::{PostgresDatabase, postgres_selected};
use nhsmal::store::Store;

/// What a schema is made of, each part as comparable text.
#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    tables: BTreeSet<String>,
    columns: BTreeSet<String>,
    indexes: BTreeSet<String>,
}

async fn sqlite_schema(url: &str) -> Schema {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .expect("open the SQLite store");
    let mut schema = Schema::default();
    let tables = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    for row in tables {
        let table: String = row.get(0);
        let columns = sqlx::query(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .fetch_all(&mut conn)
            .await
            .expect("columns");
        for column in columns {
            let column: String = column.get(0);
            schema.columns.insert(format!("{table}.{column}"));
        }
        schema.tables.insert(table);
    }
    // Indexes written with CREATE INDEX (those SQLite makes for constraints have no SQL).
    let indexes = sqlx::query(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    )
    .fetch_all(&mut conn)
    .await
    .expect("indexes");
    for row in indexes {
        let (name, table, sql): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let columns = sqlx::query(&format!("SELECT name FROM pragma_index_info('{name}')"))
            .fetch_all(&mut conn)
            .await
            .expect("index columns")
            .into_iter()
            .map(|r| r.get::<String, _>(0))
            .collect::<Vec<_>>()
            .join(",");
        let unique = sql.to_uppercase().starts_with("CREATE UNIQUE");
        schema
            .indexes
            .insert(format!("{name} on {table}({columns}) unique={unique}"));
    }
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .expect("open the PostgreSQL store");
    let mut schema = Schema::default();
    let columns = sqlx::query(
        "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c \
         JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' \
           AND c.table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("columns");
    for row in columns {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        schema.columns.insert(format!("{table}.{column}"));
        schema.tables.insert(table);
    }
    // Indexes written with CREATE INDEX: not those behind a primary key or unique constraint.
    let indexes = sqlx::query(
        "SELECT i.relname::text, t.relname::text, \
                array_to_string(ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY k(n, o) \
                  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o), ','), \
                CASE WHEN x.indisunique THEN 1 ELSE 0 END \
         FROM pg_index x \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = 'public' AND t.relname <> '_sqlx_migrations' \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
    )
    .fetch_all(&mut conn)
    .await
    .expect("indexes");
    for row in indexes {
        let (name, table, columns): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let unique = row.get::<i32, _>(3) == 1;
        schema
            .indexes
            .insert(format!("{name} on {table}({columns}) unique={unique}"));
    }
    schema
}

/// What one set has and the other lacks, for the failure message.
fn differences(sqlite: &BTreeSet<String>, postgres: &BTreeSet<String>) -> String {
    let only = |a: &BTreeSet<String>, b: &BTreeSet<String>| {
        a.difference(b).cloned().collect::<Vec<_>>().join("\n    ")
    };
    format!(
        "only in SQLite:\n    {}\nonly in PostgreSQL:\n    {}",
        only(sqlite, postgres),
        only(postgres, sqlite)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_migration_sets_end_in_the_same_tables_columns_and_indexes() {
    // Needs both stores at once: it runs in the PostgreSQL pass of the suite
    // (NHSMAL_TEST_STORE=postgres, `scripts/test test-postgres`), which CI always runs.
    if !postgres_selected() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let sqlite_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("portal.db").display()
    );
    Store::open(&sqlite_url, dir.path(), 2)
        .await
        .expect("SQLite migrations run")
        .close()
        .await;
    let (_database, postgres_url) = PostgresDatabase::create().await;
    Store::open(&postgres_url, dir.path(), 2)
        .await
        .expect("PostgreSQL migrations run")
        .close()
        .await;

    let sqlite = sqlite_schema(&sqlite_url).await;
    let postgres = postgres_schema(&postgres_url).await;
    assert!(sqlite.tables.len() > 20, "{:?}", sqlite.tables);
    assert!(!sqlite.indexes.is_empty());
    assert_eq!(
        sqlite.tables,
        postgres.tables,
        "{}",
        differences(&sqlite.tables, &postgres.tables)
    );
    assert_eq!(
        sqlite.columns,
        postgres.columns,
        "{}",
        differences(&sqlite.columns, &postgres.columns)
    );
    assert_eq!(
        sqlite.indexes,
        postgres.indexes,
        "{}",
        differences(&sqlite.indexes, &postgres.indexes)
    );
}

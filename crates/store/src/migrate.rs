//! Embedded migrations, applied in order at start, each in its own transaction.

use sqlx::{Executor, Row};

use crate::{Result, Store};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "scoring",
        sqlite: include_str!("../migrations/sqlite/0002_scoring.sql"),
    },
    Migration {
        version: 3,
        name: "monthly",
        sqlite: include_str!("../migrations/sqlite/0003_monthly.sql"),
    },
    Migration {
        version: 4,
        name: "roster",
        sqlite: include_str!("../migrations/sqlite/0004_roster.sql"),
    },
    Migration {
        version: 5,
        name: "warnings",
        sqlite: include_str!("../migrations/sqlite/0005_warnings.sql"),
    },
    Migration {
        version: 6,
        name: "policies",
        sqlite: include_str!("../migrations/sqlite/0006_policies.sql"),
    },
    Migration {
        version: 7,
        name: "compare",
        sqlite: include_str!("../migrations/sqlite/0007_compare.sql"),
    },
    Migration {
        version: 8,
        name: "run saves",
        sqlite: include_str!("../migrations/sqlite/0008_run_saves.sql"),
    },
];

pub(crate) async fn run(store: &Store) -> Result<()> {
    let pool = &store.write;
    pool.execute(
        "CREATE TABLE IF NOT EXISTS schema_migration (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at INTEGER NOT NULL
        )",
    )
    .await?;
    let rows = sqlx::query("SELECT version FROM schema_migration")
        .fetch_all(pool)
        .await?;
    let applied: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let mut tx = pool.begin().await?;
        (&mut *tx).execute(m.sqlite).await?;
        sqlx::query("INSERT INTO schema_migration (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(chrono::Utc::now().timestamp())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    Ok(())
}

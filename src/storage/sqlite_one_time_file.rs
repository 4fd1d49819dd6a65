//! Used one-time values of a SQLite database file live in a file of their
//! own beside it (`keyward.db` → `keyward.once.db`). Their commits, one for
//! every few assertions or DPoP proofs, then never wait for the main file's
//! write lock: a usage flush of 10,000 rows held them up 130–190 ms
//! (2026-12-01). Nor do they reset the page cache of the credential readers.
//! The file holds nothing a value does not outlive by ten minutes; lost, it
//! lets a value still in its lifetime be used once more.

use std::path::{Path, PathBuf};

use sqlx::SqlitePool;

/// Beside the database file, named after it.
pub fn path_beside(database: &Path) -> PathBuf {
    database.with_extension("once.db")
}

const TABLE: &str = "CREATE TABLE IF NOT EXISTS used_one_time_values (\
                         expires_at INTEGER NOT NULL, \
                         value_digest TEXT NOT NULL, \
                         PRIMARY KEY (expires_at, value_digest)\
                     ) WITHOUT ROWID";

pub async fn create_table(once: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query(TABLE).execute(once).await?;
    Ok(())
}

/// Moves the values that the main file's table holds (recorded before the
/// values had a file of their own) into `once`, so they stay used. Copied
/// first, then deleted: a stop in between leaves a copy in both, moved
/// again at the next start.
pub async fn move_from_main(once: &SqlitePool, database: &Path) -> Result<(), sqlx::Error> {
    let mut connection = once.acquire().await?;
    sqlx::query("ATTACH DATABASE $1 AS main_file")
        .bind(database.to_string_lossy().into_owned())
        .execute(&mut *connection)
        .await?;
    let moved = async {
        sqlx::query(
            "INSERT OR IGNORE INTO main.used_one_time_values (expires_at, value_digest) \
             SELECT expires_at, value_digest FROM main_file.used_one_time_values",
        )
        .execute(&mut *connection)
        .await?;
        sqlx::query("DELETE FROM main_file.used_one_time_values")
            .execute(&mut *connection)
            .await
    }
    .await;
    sqlx::query("DETACH DATABASE main_file")
        .execute(&mut *connection)
        .await?;
    moved.map(|_| ())
}

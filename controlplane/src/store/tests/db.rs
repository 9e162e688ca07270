//! A fresh, empty database for one store test, on either backend, and its removal.

use std::path::PathBuf;

use sqlx::any::AnyPoolOptions;

use super::super::{Backend, Store};
use crate::secrets::{hex, random_bytes};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// An empty database for one test, and how to remove it.
pub(super) struct Db {
    pub(super) url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Postgres { admin: String, name: String },
}

fn admin_url() -> String {
    std::env::var("WARDEN_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

impl Db {
    pub(super) async fn new(backend: Backend, tag: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let unique = format!(
            "{tag}_{}_{}",
            std::process::id(),
            hex(&random_bytes::<4>()?)
        );
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("warden-store-{unique}"));
                std::fs::create_dir_all(&dir)?;
                Ok(Db {
                    url: format!("sqlite://{}?mode=rwc", dir.join("warden.db").display()),
                    cleanup: Cleanup::Dir(dir),
                })
            }
            Backend::Postgres => {
                let admin = admin_url();
                let name = format!("warden_test_{unique}");
                let pool = AnyPoolOptions::new()
                    .max_connections(1)
                    .connect(&admin)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "store tests run on PostgreSQL too and could not reach it \
                             (WARDEN_TEST_POSTGRES, default {DEFAULT_POSTGRES}; \
                             `bash scripts/deps.sh` starts one): {e}"
                        )
                    })?;
                sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                    .execute(&pool)
                    .await?;
                pool.close().await;
                let (base, query) = admin.split_once('?').unwrap_or((&admin, ""));
                let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
                let query = if query.is_empty() {
                    String::new()
                } else {
                    format!("?{query}")
                };
                Ok(Db {
                    url: format!("{server}/{name}{query}"),
                    cleanup: Cleanup::Postgres { admin, name },
                })
            }
        }
    }

    pub(super) async fn remove(self, store: Store) -> anyhow::Result<()> {
        store.pool.close().await;
        match self.cleanup {
            Cleanup::Dir(dir) => std::fs::remove_dir_all(dir)?,
            Cleanup::Postgres { admin, name } => {
                let pool = AnyPoolOptions::new()
                    .max_connections(1)
                    .connect(&admin)
                    .await?;
                sqlx::raw_sql(&format!("DROP DATABASE {name} WITH (FORCE)"))
                    .execute(&pool)
                    .await?;
                pool.close().await;
            }
        }
        Ok(())
    }
}

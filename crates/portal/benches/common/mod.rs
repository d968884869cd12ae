//! What the benchmarks share: a scratch PostgreSQL database for one store's run, made beside
//! the admin URL's database and dropped at the end.

use nhsmal::config::Settings;

pub struct ScratchDatabase {
    admin: String,
    name: String,
}

impl ScratchDatabase {
    /// Creates a fresh database and points `settings` at it.
    pub fn create(
        rt: &tokio::runtime::Runtime,
        admin: &str,
        settings: &mut Settings,
    ) -> anyhow::Result<Self> {
        let name = format!("nhsmal_bench_{}", uuid::Uuid::new_v4().simple());
        rt.block_on(admin_sql(admin, &format!("CREATE DATABASE {name}")))?;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
        settings.database_url = format!("{base}/{name}");
        Ok(Self {
            admin: admin.to_string(),
            name,
        })
    }

    /// Drops it, whoever is still connected (run after the server's runtime has stopped).
    pub fn remove(self) -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(admin_sql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ))
    }
}

async fn admin_sql(admin: &str, sql: &str) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin).await?;
    sqlx::query(sql).execute(&mut conn).await?;
    Ok(())
}

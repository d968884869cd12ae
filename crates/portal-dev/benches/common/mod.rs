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

/// `count` people in organisation `org`, the i-th with the address `email(i)`, all with the
/// password whose hash is `password_hash` (made once: a hash each would make the set-up long),
/// and each with an authenticator app enrolled a time step ago, so the current step is free.
/// Returns their addresses and app keys.
#[allow(dead_code)] // each benchmark uses what it needs of this module
pub async fn people_with_an_app(
    store: &nhsmal::store::Store,
    app: &nhsmal::web::AppState,
    org: &str,
    password_hash: &str,
    count: usize,
    email: impl Fn(usize) -> String,
) -> anyhow::Result<Vec<(String, domain::mfa::totp::TotpSecret)>> {
    use domain::accounts::{AccountRecords, Email, NewAccount, Role};
    use domain::clock::Clock;
    let requester = domain::audit::Requester::command_line();
    let mut people = Vec::with_capacity(count);
    for i in 0..count {
        let address = email(i);
        let new = NewAccount {
            id: uuid::Uuid::new_v4().to_string(),
            email: Email::parse(&address).map_err(|e| anyhow::anyhow!(e))?,
            display_name: "Bench User".into(),
            org_code: org.into(),
            role: Role::User,
            password_hash: Some(password_hash.to_string()),
            now: 0,
        };
        store.insert_account(&new).await?;
        let account = store
            .account_by_id(&new.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("account"))?;
        let secret = domain::mfa::totp::TotpSecret::generate();
        let now = domain::clock::SystemClock.now();
        domain::mfa::finish_totp_enrolment(
            store,
            &account,
            &secret,
            &secret.code_at(now - 30),
            "Bench app",
            &app.mfa(&requester),
        )
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
        people.push((address, secret));
    }
    Ok(people)
}

/// The product binary a benchmark drives (`nhsmal serve`, `nhsmal user import`): `NHSMAL_BIN`,
/// or `nhsmal` beside this benchmark's own build, which the scripts under `scripts/` build
/// first (a benchmark of this crate cannot ask cargo for another package's binary).
#[allow(dead_code)] // each benchmark uses what it needs of this module
pub fn nhsmal_bin() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("NHSMAL_BIN") {
        return path.into();
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("nhsmal")))
        .unwrap_or_else(|| "nhsmal".into())
}

//! The development loop on a server env: the database of the env is cloned from a template
//! database on the same server (or built in place with `--no-template`).

use std::time::{Duration, Instant};

use tracing::info;

use super::Project;
use super::dev::{BuildInputs, ResetOptions, ResetReport};
use super::gc_server::drop_dead_runs;
use super::server::{self, ServerEnv};
use crate::config::{EnvConfig, ProviderKind};
use crate::engine::{AnyBackend, ServerAdmin};
use crate::error::Error;
use crate::state::EnvState;
use crate::template::{self, TemplateKey};

/// `up` on a server env: bring the server up; create the env's database from its template
/// when missing, otherwise apply pending migrations only.
pub(crate) async fn up(
    project: &Project,
    env: &EnvConfig,
    options: &ResetOptions,
    start: Instant,
) -> Result<ResetReport, Error> {
    let (server, state) = server::ensure_up(project, env).await?;
    let mut admin = server.admin().await?;
    if !admin.database_exists(&server.database).await? {
        return materialize(project, env, &server, state, options, start).await;
    }
    drop(admin);
    let applied = super::migrations::migrate_on_up(project, env, Some(server.url())).await?;
    Ok(ResetReport {
        env: env.name.clone(),
        url: shown_url(env, &server),
        created: false,
        scenario: state.scenario,
        seed: state.seed,
        rows: 0,
        template: None,
        template_built: false,
        migrations_applied: applied,
        elapsed_ms: start.elapsed().as_millis() as u64,
    })
}

/// `reset` on a server env: bring the server up and replace the env's database.
pub(crate) async fn reset(
    project: &Project,
    env: &EnvConfig,
    options: &ResetOptions,
    start: Instant,
) -> Result<ResetReport, Error> {
    let (server, state) = server::ensure_up(project, env).await?;
    materialize(project, env, &server, state, options, start).await
}

async fn materialize(
    project: &Project,
    env: &EnvConfig,
    server: &ServerEnv,
    mut state: EnvState,
    options: &ResetOptions,
    start: Instant,
) -> Result<ResetReport, Error> {
    let BuildInputs {
        migrations,
        name,
        scenario,
        seed,
        seed_options,
    } = BuildInputs::resolve(project, env, options)?;
    let mut admin = server.admin().await?;
    refuse_foreign_database(env, &state, &server.database, &mut admin).await?;
    // A run killed while creating the env's database leaves the server to finish that.
    admin
        .wait_statements_naming(&server.database, Duration::from_secs(30))
        .await?;
    if !state.owns_database {
        // Recorded before the database is created: a run killed right after creating it
        // must not leave a database that later resets refuse to replace as not dbenv's.
        state.owns_database = true;
        project.state.write_env(&env.name, &state)?;
    }
    let (template, built, rows) = if options.no_template {
        // Built beside the env's database and swapped in, so a failure leaves it untouched.
        let building = format!("{}_b{}", server.database, std::process::id());
        drop_dead_runs(&mut admin, &format!("{}_b", server.database)).await?;
        let report = template::build_server(
            &server.endpoint,
            &mut admin,
            &building,
            &migrations,
            &scenario,
            &seed_options,
        )
        .await?;
        admin.drop_database(&server.database).await?;
        admin.rename_database(&building, &server.database).await?;
        (None, false, report.total_rows())
    } else {
        let key = TemplateKey::new(env.engine.as_str(), &migrations, &scenario, seed);
        let (template, built, rows) = template::ensure_server(
            &project.state,
            &server.endpoint,
            &mut admin,
            &key,
            &migrations,
            &scenario,
            &seed_options,
        )
        .await?;
        admin.drop_database(&server.database).await?;
        admin.clone_database(&template, &server.database).await?;
        (Some(template), built, rows)
    };
    state.owns_database = true;
    state.scenario = Some(name.clone());
    state.seed = Some(seed);
    state.seeded_on_top.clear();
    state.template = template.clone();
    state.updated_at = chrono::Utc::now().to_rfc3339();
    project.state.write_env(&env.name, &state)?;
    info!(env = %env.name, database = %server.database, scenario = %name, seed, rows, "database ready");
    Ok(ResetReport {
        env: env.name.clone(),
        url: shown_url(env, server),
        created: true,
        scenario: Some(name),
        seed: Some(seed),
        rows,
        template: template.map(Into::into),
        template_built: built,
        migrations_applied: Vec::new(),
        elapsed_ms: start.elapsed().as_millis() as u64,
    })
}

/// On an external server, dbenv replaces or drops only databases it created itself.
async fn refuse_foreign_database(
    env: &EnvConfig,
    state: &EnvState,
    database: &str,
    admin: &mut ServerAdmin,
) -> Result<(), Error> {
    if env.provider != ProviderKind::External
        || state.owns_database
        || !admin.database_exists(database).await?
    {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "database {database} on the external server of env {} was not created by dbenv, so dbenv will not drop or replace it; drop it yourself, or set database = \"…\" in [env.{}] to a name dbenv may create",
        env.name, env.name
    )))
}

/// Connect to the env's existing database, starting its server when it is stopped.
pub(crate) async fn open_existing(project: &Project, env: &EnvConfig) -> Result<AnyBackend, Error> {
    let (server, _) = server::ensure_up(project, env).await?;
    let mut admin = server.admin().await?;
    if !admin.database_exists(&server.database).await? {
        return Err(Error::State(format!(
            "env {} has no database yet ({} does not exist on its server); run `dbenv up {}` first",
            env.name, server.database, env.name
        )));
    }
    AnyBackend::connect(env.engine, &server.url()).await
}

/// `down --purge` on an external server: drop the env's database (dbenv created it), never
/// the server. Returns the dropped database.
pub(crate) async fn drop_external_database(
    project: &Project,
    env: &EnvConfig,
) -> Result<Option<String>, Error> {
    let Some(server) = server::known(project, env)? else {
        return Ok(None);
    };
    let state = project.state.read_env(&env.name).unwrap_or_default();
    let mut admin = server.admin().await?;
    refuse_foreign_database(env, &state, &server.database, &mut admin).await?;
    if !admin.database_exists(&server.database).await? {
        return Ok(None);
    }
    admin.drop_database(&server.database).await?;
    Ok(Some(server.database))
}

/// The URL `up` and `reset` report: in full on development envs, without the password on
/// production ones (their output never carries secrets; `dbenv url` prints it on request).
fn shown_url(env: &EnvConfig, server: &ServerEnv) -> String {
    if env.kind == crate::config::EnvKind::Production {
        server.endpoint.redacted_url(&server.database)
    } else {
        server.url()
    }
}

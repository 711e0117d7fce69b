use clap::Args;
use dbenv::project::{self, Project};

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The env (default: project.default_env).
    pub env: Option<String>,
}

pub async fn run(args: &StatusArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let s = project::status(project, args.env.as_deref()).await?;
    if g.json {
        let code = if s.health == "ok" || !s.exists { 0 } else { 1 };
        return super::print_json(&s).map(|()| code);
    }
    println!(
        "env        {} ({}, {} via {})",
        s.env, s.kind, s.engine, s.provider
    );
    println!(
        "location   {}{}",
        s.location,
        s.size_bytes
            .map(|b| format!(" ({} kB)", b / 1024))
            .unwrap_or_default()
    );
    println!("health     {}", s.health);
    if let Some(v) = &s.server_version {
        println!("server     {v}");
    }
    let m = &s.migrations;
    let latest = m
        .latest_applied
        .map_or("none".to_string(), |v| v.to_string());
    println!(
        "migrations {} applied (latest {latest}), {} pending{}",
        m.applied,
        m.pending,
        if m.drift > 0 {
            format!(", {} drifted (see `dbenv migrate status`)", m.drift)
        } else {
            String::new()
        }
    );
    if let Some(state) = &s.state
        && let Some(scenario) = &state.scenario
    {
        let extra = if state.seeded_on_top.is_empty() {
            String::new()
        } else {
            format!(" + seeded {}", state.seeded_on_top.join(", "))
        };
        println!(
            "data       scenario {scenario}, seed {}{extra}",
            state.seed.unwrap_or_default()
        );
    }
    if !s.tables.is_empty() {
        println!("tables");
        let width = s.tables.iter().map(|t| t.table.len()).max().unwrap_or(0);
        for t in &s.tables {
            println!("  {:<width$}  {:>10}", t.table, t.rows);
        }
    }
    Ok(if s.health == "ok" || !s.exists { 0 } else { 1 })
}

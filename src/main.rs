//! The `dbenv` binary: parse, install logging, run, report errors with their chain.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::logging::install(&args.global, cli::json_logs(&args));
    let own_signals = cli::handles_signals(&args);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        if own_signals {
            return cli::run(args).await;
        }
        tokio::select! {
            result = cli::run(args) => result,
            _ = tokio::signal::ctrl_c() => Err(dbenv::Error::Interrupted("Ctrl-C: stopped before anything was half-written (open transactions are rolled back, temporary files removed on the next run)".into()).into()),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cli::exit_code(&e))
        }
    }
}

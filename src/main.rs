use std::process::ExitCode;

use clap::Parser;
use keyward::cli::{Cli, Command};
use keyward::configuration::Settings;
use keyward::startup::Application;
use keyward::{admin, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("keyward: {}", keyward::error::error_chain(&e));
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log, std::io::stderr);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        command => admin::run(command, &settings, cli.json).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyward: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    Ok(())
}

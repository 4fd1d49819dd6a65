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
            // Docker reserves a health check's exit code 2; unhealthy is 1.
            let code = if matches!(cli.command, Some(Command::Healthcheck)) {
                1
            } else {
                2
            };
            return ExitCode::from(code);
        }
    };
    let _log_writer = telemetry::init_off_thread(&settings.log, settings.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Healthcheck => keyward::healthcheck::check(settings.listen).await,
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

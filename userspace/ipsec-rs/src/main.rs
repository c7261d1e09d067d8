// SPDX-License-Identifier: GPL-2.0

//! `ipsec-rs` binary: argument parsing, logging, exit codes.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use ipsec_rs::cli::{Cli, Command};
use ipsec_rs::error::exit;
use ipsec_rs::{output, run, system_ifindex, Env};
use ipsec_rs_genl::Socket;
use tracing_subscriber::EnvFilter;

fn init_logging(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .init();
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // clap uses 2 for usage errors; ours is 1 (2 means "module not loaded").
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE as u8
            } else {
                exit::OK as u8
            });
        }
    };
    init_logging(&cli);
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "ipsec-rs",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut env = Env {
        connect: &mut Socket::open,
        ifname: &output::system_ifname,
        ifindex: &system_ifindex,
        out: &mut out,
    };
    match run(&cli.command, &mut env) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipsec-rs: {}", e.message());
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

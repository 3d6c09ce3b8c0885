//! `loadgen`: drives the router, Redis pub/sub, NATS or a bare loopback socket with
//! one of five workloads, verifies every message it receives, and prints one JSON
//! line (and one line of text) per run.

mod backends;
mod cli;
mod error;
mod payload;
mod protocol;
mod report;
mod server;
mod stats;
mod workloads;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::backends::Backend;
use crate::cli::{Cli, Format, Workload};
use crate::error::BenchError;
use crate::report::{FairnessReport, IdleReport, Params, RunReport, ServerReport, Throughput};
use crate::server::ServerProbe;
use crate::workloads::{Launch, Phases, Timing, fairness, fanin, idle, pairs, pingpong, slow};

/// Exit status of a run that counted verification faults.
const EXIT_FAULTS: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    raise_open_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let limit = cli.time_limit();
    let outcome = runtime.block_on(async {
        tokio::time::timeout(limit, run(cli))
            .await
            .unwrap_or(Err(BenchError::Timeout(
                "the run exceeded its overall time limit",
            )))
    });
    // Client crates leave background tasks behind; do not wait on them.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_FAULTS),
        Err(err) => {
            eprintln!("loadgen: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Thousands of connections need thousands of descriptors: take the hard limit.
fn raise_open_file_limit() {
    if let Err(err) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("loadgen: could not raise the open-file limit: {err}");
    }
}

/// Runs the chosen workload and prints its report; returns whether it was fault-free.
async fn run(cli: Cli) -> Result<bool, BenchError> {
    let common = &cli.common;
    let phases = common.phases()?;
    let backend = Backend::new(
        common.backend,
        &common.loopback_addr()?,
        common.tls_ca.as_deref(),
    )?
    .placed(common.placement, common.shards)
    .with_send_addr(common.loopback_send_addr()?)?;
    let probe = common
        .server_pid
        .map(|pid| {
            ServerProbe::new(pid).map_err(|err| {
                BenchError::Usage(format!(
                    "--server-pid {pid}: cannot read /proc/{pid}: {err}"
                ))
            })
        })
        .transpose()?;
    let mut params = Params {
        duration_s: common.duration,
        warmup_s: common.warmup,
        ..Params::default()
    };
    let label = common
        .label
        .clone()
        .unwrap_or_else(|| format!("{:?}", common.backend).to_lowercase());

    let (name, measured) = match cli.workload {
        Workload::Idle {
            connections,
            hold,
            concurrency,
        } => {
            params.connections = Some(connections);
            let shape = idle::IdleShape {
                connections,
                concurrency,
            };
            let (outcome, held) = idle::run(&backend, shape, probe.as_ref()).await?;
            let mut report = base_report("idle", &backend, label, params);
            report.idle = Some(IdleReport::of(&outcome));
            report.faults.connection_errors = u64::from(outcome.failed);
            let ok = emit(report, common.format);
            // Reported first, so a script can read the server while they are held.
            tokio::time::sleep(Duration::try_from_secs_f64(hold).unwrap_or_default()).await;
            drop(held);
            return Ok(ok);
        }
        Workload::Fairness {
            size,
            flood_size,
            flood_window,
            flood_rate,
            phase,
            settle,
        } => {
            params.size = Some(size);
            params.flood_size = Some(flood_size);
            params.window = Some(flood_window);
            params.flood_rate_mib_s = (flood_rate > 0.0).then_some(flood_rate);
            let shape = fairness::FairnessShape {
                size,
                flood_size,
                flood_window,
                flood_rate: cli::rate("flood-rate", flood_rate)?,
                phase: cli::seconds("phase", phase)?,
                settle: cli::seconds("settle", settle)?,
            };
            let run = |launch| fairness::run(&backend, shape, launch);
            let (measured, usage) = with_server(phases, probe, run).await?;
            let mut report = base_report("fairness", &backend, label, params);
            report.server = usage.map(|usage| ServerReport::of(usage, None));
            report.fairness = Some(FairnessReport::of(&measured, phase, settle));
            report.faults = measured.faults;
            return Ok(emit(report, common.format));
        }
        Workload::Pairs(stream) => {
            set_stream_params(&mut params, stream);
            let shape = pairs_shape(stream);
            let run = |launch| pairs::run(&backend, shape, launch);
            ("pairs", with_server(phases, probe, run).await?)
        }
        Workload::Slow { stream, flood_size } => {
            set_stream_params(&mut params, stream);
            params.flood_size = Some(flood_size);
            let shape = slow::SlowShape {
                pairs: pairs_shape(stream),
                flood_size,
            };
            let run = |launch| slow::run(&backend, shape, launch);
            ("slow", with_server(phases, probe, run).await?)
        }
        Workload::Pingpong { pairs, size } => {
            params.pairs = Some(pairs);
            params.size = Some(size);
            let shape = pingpong::PingpongShape { pairs, size };
            let run = |launch| pingpong::run(&backend, shape, launch);
            ("pingpong", with_server(phases, probe, run).await?)
        }
        Workload::Fanin {
            senders,
            size,
            window,
        } => {
            params.senders = Some(senders);
            params.size = Some(size);
            params.window = Some(window);
            let shape = fanin::FaninShape {
                senders,
                size,
                window,
            };
            let run = |launch| fanin::run(&backend, shape, launch);
            ("fanin", with_server(phases, probe, run).await?)
        }
    };
    let (measured, usage) = measured;
    let mut report = base_report(name, &backend, label, params);
    let throughput = Throughput::of(&measured);
    report.server = usage.map(|usage| ServerReport::of(usage, Some(throughput.messages)));
    report.throughput = Some(throughput);
    report.flood_bytes = measured.flood_bytes;
    report.faults = measured.tally.faults;
    Ok(emit(report, common.format))
}

/// Runs `workload` while sampling the server, if a PID was given. The sampler learns
/// the run's timing through a channel, because the timing starts only once the
/// workload's connections are set up.
async fn with_server<T, F>(
    phases: Phases,
    probe: Option<ServerProbe>,
    workload: impl FnOnce(Launch) -> F,
) -> Result<(T, Option<server::ServerUsage>), BenchError>
where
    F: Future<Output = Result<T, BenchError>>,
{
    let Some(probe) = probe else {
        return Ok((workload(Launch::new(phases, None)).await?, None));
    };
    let (timing_tx, timing_rx) = tokio::sync::oneshot::channel::<Timing>();
    let sampler = tokio::spawn(async move {
        let timing = timing_rx.await.ok()?;
        match server::watch(probe, timing).await {
            Ok(usage) => Some(usage),
            Err(err) => {
                eprintln!("loadgen: could not sample the server: {err}");
                None
            }
        }
    });
    let measured = workload(Launch::new(phases, Some(timing_tx))).await?;
    Ok((measured, sampler.await.ok().flatten()))
}

fn pairs_shape(stream: cli::StreamArgs) -> pairs::PairsShape {
    pairs::PairsShape {
        pairs: stream.pairs,
        size: stream.size,
        window: stream.window,
    }
}

fn set_stream_params(params: &mut Params, stream: cli::StreamArgs) {
    params.pairs = Some(stream.pairs);
    params.size = Some(stream.size);
    params.window = Some(stream.window);
}

fn base_report(
    workload: &'static str,
    backend: &Backend,
    label: String,
    params: Params,
) -> RunReport {
    RunReport {
        workload,
        backend: backend.kind(),
        label,
        params,
        ok: true,
        errors: 0,
        faults: Default::default(),
        throughput: None,
        server: None,
        idle: None,
        flood_bytes: None,
        fairness: None,
    }
}

/// Prints `report`; returns whether it was fault-free.
fn emit(mut report: RunReport, format: Format) -> bool {
    report.errors = report.faults.total();
    report.ok = report.errors == 0;
    let mut stdout = std::io::stdout().lock();
    match format {
        Format::Both => {
            let _ = writeln!(stdout, "{}", report.json());
            eprintln!("{}", report.text());
        }
        Format::Json => {
            let _ = writeln!(stdout, "{}", report.json());
        }
        Format::Table => {
            let _ = writeln!(stdout, "{}", report.text());
        }
    }
    let _ = stdout.flush();
    report.ok
}

//! The command line: argument parsing (clap), logging set-up, and the verbs. The only module that
//! knows clap; it maps errors to exit codes: 0 success, 1 runtime failure, 2 usage, 78 config error.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::Timestamp;

use crate::config::{self, ConfigError, DigestSettings, Settings};
use crate::digest::Format;
use crate::pipeline::{self, Context, FeedStatus, FetchProgress};
use crate::store::InstanceLock;

/// Exit code for an invalid configuration (sysexits EX_CONFIG); the unit does not restart on it.
pub const EXIT_CONFIG: u8 = 78;
/// Exit code for a runtime failure (a delivery failed, the database is unreadable, ...).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of `fetch` and `once` when every feed fetched failed (sysexits EX_UNAVAILABLE), so
/// cron and monitoring notice a dead network or proxy.
pub const EXIT_ALL_FEEDS_FAILED: u8 = 69;

#[derive(Parser, Debug)]
#[command(
    name = "digestif",
    version,
    about = "Turns the feeds you follow into one good daily digest"
)]
struct Cli {
    /// Configuration file.
    #[arg(long, short = 'c', global = true, env = "DIGESTIF_CONFIG")]
    config: Option<PathBuf>,
    /// Log filter (error, warn, info, debug, trace, or a tracing filter); overrides `log_level`.
    #[arg(long, global = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run as a daemon: fetch on timers, build digests on schedule, deliver with retries.
    Run,
    /// Fetch every enabled feed now, build every digest now, deliver everything pending; exit
    /// non-zero if a delivery failed.
    Once,
    /// Fetch every enabled feed now (ignoring intervals and backoff).
    Fetch,
    /// Build a digest now (all digests without NAME) and deliver it.
    Digest(DigestArgs),
    /// Validate the configuration and print a summary.
    CheckConfig,
    /// List feeds with their health.
    Feeds,
    /// Show feeds with their health, each digest's next time and last delivery, and the
    /// outbox (pending and failed deliveries with their last error and next retry).
    Status {
        /// Print JSON for scripts instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Deliver a stored digest again, from the outbox (never rebuilt): the newest of NAME,
    /// or outbox digest --id N.
    Resend {
        /// The digest's name.
        name: String,
        /// The outbox id (see `digestif status`); default: the newest digest of NAME.
        #[arg(long)]
        id: Option<i64>,
    },
    /// Read OPML files and print `[[feed]]` TOML blocks (names made unique, feeds already in
    /// the configuration left out, each change noted on stderr).
    ImportOpml {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the configured feeds as OPML.
    ExportOpml,
    /// Tag the named entities in text read from standard input.
    Tag {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate the tagger or the story grouping on labelled data.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Train a model (developers).
    #[command(subcommand)]
    Train(TrainCommand),
    /// Compile the gazetteer tables from source data (developers).
    BuildGazetteers {
        /// Folder with countries_mledoze/, geonames/, intl_orgs_supraverden/.
        #[arg(long, default_value = "../shared/data/gazetteers")]
        from: PathBuf,
        #[arg(long, default_value = "data/gazetteers")]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
struct DigestArgs {
    /// The digest to build (default: every configured digest).
    name: Option<String>,
    /// Build and print, but store nothing and deliver nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also print the digest to standard output in this format.
    #[arg(long, value_name = "FORMAT")]
    stdout: Option<OutFormat>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OutFormat {
    Json,
    Html,
    Md,
    Txt,
}

impl From<OutFormat> for Format {
    fn from(f: OutFormat) -> Format {
        match f {
            OutFormat::Json => Format::Json,
            OutFormat::Html => Format::Html,
            OutFormat::Md => Format::Md,
            OutFormat::Txt => Format::Txt,
        }
    }
}

#[derive(Subcommand, Debug)]
enum EvalCommand {
    /// CoNLL-style NER evaluation; last line `overall P <p> R <r> F1 <f1> tokens/s <n>`.
    Ner {
        /// A CoNLL file (`token ... tag` lines, `-DOCSTART-` between documents).
        #[arg(long, required_unless_present = "gum", conflicts_with = "gum")]
        conll: Option<PathBuf>,
        /// The GUM folder (`conllu/`, `splits.md`): scores its dev split.
        #[arg(long)]
        gum: Option<PathBuf>,
        /// Also print the first N wrong or missed spans with their sentences.
        #[arg(long, default_value_t = 0)]
        errors: usize,
        /// Evaluate this model file instead of the embedded one (with --words, its word table).
        #[arg(long, requires = "words")]
        model: Option<PathBuf>,
        #[arg(long, requires = "model")]
        words: Option<PathBuf>,
    },
    /// Story grouping evaluation; last line `BCubed P <p> R <r> F1 <f1> articles/s <n>`.
    Stories {
        #[arg(long, value_enum)]
        format: StoryFormat,
        file: PathBuf,
    },
    /// Alias-linking accuracy on GUM-style `aliases.tsv`.
    Aliases { file: PathBuf },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StoryFormat {
    Uci,
    Basil,
    /// A folder of labelled feed snapshots (`gold-stories-dev.json`, `manifest.tsv`).
    Snapshots,
}

#[derive(Subcommand, Debug)]
enum TrainCommand {
    /// Train the NER tagger and build its word table (deterministic).
    Ner {
        /// The shared data folder holding every input.
        #[arg(long, default_value = "../shared/data")]
        data: PathBuf,
        #[arg(long, default_value = "models/ner.bin")]
        out: PathBuf,
        #[arg(long, default_value = "data/ner/words.bin")]
        words_out: PathBuf,
        /// Read the word table from --words-out instead of building it.
        #[arg(long)]
        reuse_words: bool,
        #[arg(long)]
        epochs: Option<usize>,
        #[arg(long)]
        hash_bits: Option<u32>,
        /// Training-set weights, e.g. `conll=1,gum=1,wnut=0.5,btc=0.5` (0 drops a set).
        #[arg(long)]
        weights: Option<String>,
        /// Fine and coarse cluster counts, e.g. `256,32`.
        #[arg(long)]
        clusters: Option<String>,
    },
    /// Train the story model (pair and merge scorers, threshold) on the labelled feed snapshots
    /// and the UCI and BASIL development sets (deterministic).
    Stories {
        #[arg(long, default_value = "../shared/data/feeds/news-snapshots")]
        snapshots: PathBuf,
        #[arg(long, default_value = "../shared/data/clusters/uci-headlines-dev.csv")]
        uci: PathBuf,
        #[arg(long, default_value = "../shared/data/clusters/basil-dev.jsonl")]
        basil: PathBuf,
        #[arg(long, default_value = "models/stories.json")]
        out: PathBuf,
        /// Also train once without each snapshot and score it (leave-one-snapshot-out).
        #[arg(long)]
        leave_one_out: bool,
    },
}

/// A failure with its exit code.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        let code = if error.downcast_ref::<ConfigError>().is_some() {
            EXIT_CONFIG
        } else {
            EXIT_FAILURE
        };
        Failure { code, error }
    }
}

impl From<pipeline::PipelineError> for Failure {
    fn from(e: pipeline::PipelineError) -> Self {
        Failure::from(anyhow::Error::from(e))
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Failure::from(anyhow::Error::from(e))
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure {
            code: EXIT_CONFIG,
            error: e.into(),
        }
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            // Said once, on stderr (which the journal also records under systemd).
            eprintln!("digestif: error: {}", error_chain(&f.error));
            ExitCode::from(f.code)
        }
    }
}

/// An error and its causes, each said once: a cause whose text the message already contains
/// (an io::Error wrapped by a message that quotes it) is not repeated.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let msg = cause.to_string();
        if out.contains(&msg) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&msg);
    }
    out
}

fn under_systemd() -> bool {
    std::env::var_os("INVOCATION_ID").is_some() || std::env::var_os("JOURNAL_STREAM").is_some()
}

fn init_logging(level: &str) {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let journald = if std::env::var_os("JOURNAL_STREAM").is_some() {
        tracing_journald::layer()
            .ok()
            .map(|l| l.with_syslog_identifier("digestif".into()))
    } else {
        None
    };
    let registry = tracing_subscriber::registry().with(filter);
    match journald {
        Some(layer) => {
            let _ = registry.with(layer).try_init();
        }
        None => {
            let _ = registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_writer(std::io::stderr)
                        .with_ansi(std::io::stderr().is_terminal())
                        .with_target(false),
                )
                .try_init();
        }
    }
}

fn config_path(cli: &Cli) -> PathBuf {
    cli.config
        .clone()
        .unwrap_or_else(config::default_config_path)
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    // At least two workers: a digest build holds one, the daemon's watchdog task needs another.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Failure::from)
}

/// The one dispatch: each verb to its handler. Verbs that need no configuration log at `warn`
/// unless `--log-level` says otherwise; the others load the configuration first and log at its
/// `log_level`.
fn run(cli: Cli) -> Result<u8, Failure> {
    let level = cli.log_level.clone().unwrap_or_else(|| "warn".to_string());
    match &cli.command {
        Command::Tag { json } => {
            init_logging(&level);
            tag(*json)
        }
        Command::Eval(e) => {
            init_logging(&level);
            Ok(eval(e)?)
        }
        Command::Train(t) => train(t),
        Command::BuildGazetteers { from, out } => build_gazetteers(from, out),
        Command::ImportOpml { files } => {
            init_logging(&level);
            import_opml(&config_path(&cli), files)
        }
        Command::CheckConfig => check_config(&loaded(&cli, config::check)?),
        Command::ExportOpml => export_opml(&configured(&cli)?.settings),
        Command::Run => run_daemon(configured(&cli)?),
        Command::Fetch => fetch(configured(&cli)?),
        Command::Once => once(configured(&cli)?),
        Command::Digest(args) => digest(configured(&cli)?, args),
        Command::Feeds => feeds(configured(&cli)?),
        Command::Status { json } => status(configured(&cli)?, *json),
        Command::Resend { name, id } => resend(configured(&cli)?, name, *id),
    }
}

/// A loaded configuration, with logging set up from it.
struct Configured {
    /// The config file as given (or the default).
    path: PathBuf,
    settings: Settings,
    /// Whether a person watches stderr (a terminal, not systemd): shows progress bars.
    interactive: bool,
}

fn configured(cli: &Cli) -> Result<Configured, Failure> {
    loaded(cli, config::load)
}

/// The configuration read by `load` ([`config::load`], or [`config::check`] for `check-config`).
fn loaded(
    cli: &Cli,
    load: fn(&Path) -> Result<config::Loaded, ConfigError>,
) -> Result<Configured, Failure> {
    let path = config_path(cli);
    let (settings, warnings) = load(&path)?;
    let level = cli
        .log_level
        .clone()
        .unwrap_or_else(|| settings.log_level.clone());
    init_logging(&level);
    // After logging is set up: before it, these warnings went nowhere.
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let interactive = std::io::stderr().is_terminal() && !under_systemd();
    Ok(Configured {
        path,
        settings,
        interactive,
    })
}

// ------------------------------------------------------------------------------- verb handlers

fn train(cmd: &TrainCommand) -> Result<u8, Failure> {
    init_logging("info");
    if let TrainCommand::Stories {
        snapshots,
        uci,
        basil,
        out,
        leave_one_out,
    } = cmd
    {
        return train_stories(snapshots, uci, basil, out, *leave_one_out);
    }
    let report = crate::ner::train::train(&train_options(cmd)?).context("training failed")?;
    println!("{report}");
    Ok(0)
}

fn train_stories(
    snapshots: &Path,
    uci: &Path,
    basil: &Path,
    out: &Path,
    leave_one_out: bool,
) -> Result<u8, Failure> {
    use crate::stories::train;
    let data = crate::devdata::TrainingData::load(snapshots, uci, basil)
        .context("loading the training data")?;
    let windows = data.windows();
    let opts = crate::stories::GroupOptions::default();
    let topts = train::TrainOptions::default();
    let mut log = |s: &str| eprintln!("{s}");
    let model = train::train(&windows, &opts, &topts, &mut log);
    std::fs::write(out, model.to_json())
        .with_context(|| format!("cannot write {}", out.display()))?;
    let s = train::evaluate(&windows, &model, &opts);
    for (name, score) in &s.per_snapshot {
        println!("in-sample {name}: {score}");
    }
    for (name, f1) in &s.benchmarks {
        println!("in-sample {name}: BCubed F1 {f1:.4}");
    }
    println!("in-sample snapshots: {}", s.snapshots);
    if leave_one_out {
        let l = train::leave_one_out(&windows, &opts, &topts, &mut |s| println!("left out {s}"));
        println!("leave-one-snapshot-out: {}", l.snapshots);
    }
    println!("wrote {} (threshold {:.2})", out.display(), model.threshold);
    Ok(0)
}

fn build_gazetteers(from: &Path, out: &Path) -> Result<u8, Failure> {
    init_logging("info");
    let report =
        crate::ner::train::build_gazetteers(from, out).context("building gazetteers failed")?;
    println!("{report}");
    Ok(0)
}

fn import_opml(config: &Path, files: &[PathBuf]) -> Result<u8, Failure> {
    let mut feeds = Vec::new();
    for file in files {
        let bytes = config::read_capped(file, crate::opml::MAX_OPML_BYTES)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let got = crate::opml::import(&bytes).with_context(|| format!("{}", file.display()))?;
        eprintln!("read {} feeds from {}", got.len(), file.display());
        let (web, skipped) = crate::opml::web_feeds_only(got);
        for w in &skipped {
            eprintln!("warning: {}: {w}", file.display());
        }
        feeds.extend(web);
    }
    // Names and URLs already configured, when there is a readable configuration.
    let (names, urls): (Vec<String>, Vec<String>) = match config::load(config) {
        Ok((settings, _)) => settings
            .feeds
            .iter()
            .map(|f| (f.name.clone(), f.url.clone()))
            .unzip(),
        Err(_) => (Vec::new(), Vec::new()),
    };
    let (feeds, notes) = crate::opml::dedupe(feeds, &names, &urls);
    for n in &notes {
        eprintln!("note: {n}");
    }
    write_stdout(&crate::opml::to_toml(&feeds))?;
    eprintln!("imported {} feeds", feeds.len());
    Ok(0)
}

/// Writes `text` to standard output; a closed pipe (`| head`) ends quietly instead of panicking.
fn write_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    quiet_on_closed_pipe(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

fn check_config(c: &Configured) -> Result<u8, Failure> {
    let settings = &c.settings;
    if let Err(why) = crate::store::check_state_dir(&settings.state_dir) {
        return Err(Failure {
            code: EXIT_CONFIG,
            error: anyhow::anyhow!(
                "{}: state_dir {} {why}",
                c.path.display(),
                settings.state_dir.display()
            ),
        });
    }
    check_templates(settings)?;
    println!(
        "{}: ok — {} feeds ({} enabled), {} digests, state in {}",
        c.path.display(),
        settings.feeds.len(),
        settings.feeds.iter().filter(|f| f.enabled).count(),
        settings.digests.len(),
        settings.state_dir.display()
    );
    for d in &settings.digests {
        let next = d.schedule.next_after(Timestamp::now(), &settings.timezone);
        println!(
            "  digest {}: {} feeds, next at {}",
            d.name,
            d.feeds.len(),
            next.map(|t| t.to_zoned(settings.timezone.clone()).to_string())
                .unwrap_or_else(|| "never".into())
        );
    }
    Ok(0)
}

/// Compiles the templates (a `template_dir` override included) and each digest's `subject`,
/// `title` and `link`, so `check-config` finds what would otherwise fail at digest time.
/// A failure is a configuration error (exit 78).
fn check_templates(settings: &Settings) -> Result<(), Failure> {
    let config_error = |e: anyhow::Error| Failure {
        code: EXIT_CONFIG,
        error: e,
    };
    let renderer = crate::digest::Renderer::new(settings.template_dir.as_deref())
        .context("templates")
        .map_err(config_error)?;
    for d in &settings.digests {
        let lines = [
            ("subject", &d.subject),
            ("title", &d.title),
            ("link", &d.link),
        ];
        for (what, src) in lines {
            if let Some(src) = src {
                renderer
                    .check_line_template(what, src)
                    .with_context(|| {
                        format!("{}: digest {}: {what}", settings.path.display(), d.name)
                    })
                    .map_err(config_error)?;
            }
        }
    }
    Ok(())
}

fn export_opml(settings: &Settings) -> Result<u8, Failure> {
    let feeds: Vec<crate::opml::OpmlFeed> = settings
        .feeds
        .iter()
        .map(|f| crate::opml::OpmlFeed {
            name: f.name.clone(),
            url: f.url.clone(),
            tags: f.tags.clone(),
        })
        .collect();
    write_stdout(&crate::opml::export(&feeds))?;
    Ok(0)
}

fn run_daemon(c: Configured) -> Result<u8, Failure> {
    let _lock = InstanceLock::acquire(&c.settings.state_dir)?;
    runtime()?
        .block_on(crate::daemon::run(c.path, c.settings))
        .context("daemon failed")?;
    Ok(0)
}

fn fetch(c: Configured) -> Result<u8, Failure> {
    let _lock = InstanceLock::acquire(&c.settings.state_dir)?;
    runtime()?
        .block_on(async {
            let ctx = Context::new(c.settings)?;
            let fetched = fetch_now(&ctx, c.interactive).await?;
            pipeline::update_metrics(&ctx);
            Ok::<_, anyhow::Error>(fetched.exit_code())
        })
        .map_err(Failure::from)
}

fn once(c: Configured) -> Result<u8, Failure> {
    let _lock = InstanceLock::acquire(&c.settings.state_dir)?;
    runtime()?
        .block_on(async {
            let ctx = Context::new(c.settings)?;
            let fetched = fetch_now(&ctx, c.interactive).await?;
            for d in &ctx.settings.digests {
                let out = pipeline::build_digest(&ctx, d, Timestamp::now(), false)?;
                print_build(&out);
            }
            let delivered = pipeline::deliver_pending(&ctx, Timestamp::now(), true).await?;
            print_delivery(&delivered);
            pipeline::apply_retention(&ctx, Timestamp::now())?;
            pipeline::update_metrics(&ctx);
            Ok::<_, anyhow::Error>(match delivery_exit_code(&delivered) {
                0 => fetched.exit_code(),
                code => code,
            })
        })
        .map_err(Failure::from)
}

fn digest(c: Configured, args: &DigestArgs) -> Result<u8, Failure> {
    // A dry run writes nothing of note: it may run beside the daemon.
    let _lock = match args.dry_run {
        true => None,
        false => Some(InstanceLock::acquire(&c.settings.state_dir)?),
    };
    runtime()?
        .block_on(async {
            let ctx = Context::new(c.settings)?;
            let digests: Vec<&DigestSettings> = match &args.name {
                Some(n) => vec![pipeline::digest_by_name(&ctx.settings, n)?],
                None => ctx.settings.digests.iter().collect(),
            };
            for d in digests {
                let out = pipeline::build_digest(&ctx, d, Timestamp::now(), args.dry_run)?;
                if let Some(f) = args.stdout {
                    let body = ctx.renderer.render(&out.digest, f.into())?;
                    let mut stdout = std::io::stdout().lock();
                    stdout.write_all(body.as_bytes())?;
                    if !body.ends_with('\n') {
                        stdout.write_all(b"\n")?;
                    }
                }
                if args.stdout.is_none() || args.dry_run {
                    print_build_to(&out, args.stdout.is_some());
                }
            }
            if args.dry_run {
                return Ok::<_, anyhow::Error>(0);
            }
            let delivered = pipeline::deliver_pending(&ctx, Timestamp::now(), true).await?;
            if args.stdout.is_none() {
                print_delivery(&delivered);
            }
            Ok(delivery_exit_code(&delivered))
        })
        .map_err(Failure::from)
}

fn feeds(c: Configured) -> Result<u8, Failure> {
    let ctx = Context::new(c.settings)?;
    let states = ctx.with_store(|s| s.feed_states())?;
    println!(
        "{:<28} {:<7} {:>5} {:>6} {:<25} ERROR / URL",
        "FEED", "STATUS", "FAILS", "ITEMS", "LAST SUCCESS"
    );
    for f in &ctx.settings.feeds {
        let st = states.iter().find(|s| s.name == f.name);
        let (status, fails, items, last, err) = match st {
            None => ("new", 0, 0, String::from("-"), String::new()),
            Some(s) => (
                if !f.enabled {
                    "off"
                } else if s.consecutive_failures > 0 {
                    "error"
                } else if s.last_success.is_some() {
                    "ok"
                } else {
                    "new"
                },
                s.consecutive_failures,
                s.items_seen,
                s.last_success
                    .map(|t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string())
                    .unwrap_or_else(|| "-".into()),
                s.last_error.clone().unwrap_or_default(),
            ),
        };
        let tail = if err.is_empty() { f.url.clone() } else { err };
        println!(
            "{:<28} {:<7} {:>5} {:>6} {:<25} {}",
            truncate(&f.name, 28),
            status,
            fails,
            items,
            last,
            tail
        );
    }
    Ok(0)
}

fn status(c: Configured, json: bool) -> Result<u8, Failure> {
    let ctx = Context::new(c.settings)?;
    let report = pipeline::status(&ctx, Timestamp::now())?;
    let mut out = std::io::stdout().lock();
    let written = if json {
        serde_json::to_string_pretty(&report)
            .map_err(std::io::Error::other)
            .and_then(|j| writeln!(out, "{j}"))
    } else {
        write_status(&mut out, &report, &ctx.settings.timezone)
    };
    quiet_on_closed_pipe(written)?;
    Ok(0)
}

/// A closed standard output (`| head`) ends the command quietly; other write errors are errors.
fn quiet_on_closed_pipe(r: std::io::Result<()>) -> Result<(), Failure> {
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::from(
            anyhow::Error::from(e).context("cannot write to standard output"),
        )),
        _ => Ok(()),
    }
}

fn write_status(
    out: &mut impl Write,
    r: &pipeline::StatusReport,
    tz: &jiff::tz::TimeZone,
) -> std::io::Result<()> {
    let when = |t: Option<Timestamp>| {
        t.map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        })
        .unwrap_or_else(|| "-".into())
    };
    let failing = r.feeds.iter().filter(|f| f.status == "failing").count();
    writeln!(out, "feeds: {} ({failing} failing)", r.feeds.len())?;
    for f in &r.feeds {
        let tail = match (&f.last_error, f.status) {
            (Some(e), "failing") => format!(
                "{} failures, last: {e}; next try {}",
                f.consecutive_failures,
                when(f.next_attempt)
            ),
            _ => format!("last success {}", when(f.last_success)),
        };
        writeln!(
            out,
            "  {:<28} {:<8} {tail}",
            truncate(&f.name, 28),
            f.status
        )?;
    }
    writeln!(out, "digests:")?;
    for d in &r.digests {
        let sent = match (d.last_sent_id, d.last_sent_at) {
            (Some(id), Some(at)) => format!("last sent #{id} at {}", when(Some(at))),
            _ => "never sent".into(),
        };
        writeln!(
            out,
            "  {:<16} next {} ({}); {sent}",
            d.name,
            when(d.next_at),
            d.schedule
        )?;
    }
    write!(out, "outbox: {} waiting ({} failed", r.pending, r.failed)?;
    if r.uncertain > 0 {
        write!(
            out,
            ", {} uncertain: the server may have the message, retried only after a long wait",
            r.uncertain
        )?;
    }
    writeln!(out, ")")?;
    for d in &r.outbox {
        writeln!(
            out,
            "  #{:<5} {:<16} built {}: {} stories, {} articles",
            d.id,
            d.name,
            when(Some(d.built_at)),
            d.stories,
            d.articles
        )?;
        for x in &d.deliveries {
            let detail = match x.status.as_str() {
                "sent" => String::new(),
                _ => format!(
                    " (attempt {}, next {}){}",
                    x.attempts,
                    when(x.next_attempt),
                    x.last_error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
            };
            writeln!(out, "         {} {}{detail}", x.status, x.target)?;
        }
    }
    Ok(())
}

fn resend(c: Configured, name: &str, id: Option<i64>) -> Result<u8, Failure> {
    // It delivers: two senders of one outbox could both send a delivery.
    let _lock = InstanceLock::acquire(&c.settings.state_dir)?;
    runtime()?
        .block_on(async {
            let ctx = Context::new(c.settings)?;
            let id = match id {
                Some(id) => id,
                None => ctx
                    .with_store(|s| s.last_digest_id(name))?
                    .ok_or_else(|| anyhow::anyhow!("no digest named {name:?} in the outbox"))?,
            };
            let stored = ctx
                .with_store(|s| s.digest(id))?
                .filter(|d| d.name == name)
                .ok_or_else(|| anyhow::anyhow!("no digest {name:?} with id {id} in the outbox"))?;
            let delivered = pipeline::resend(&ctx, stored.id).await?;
            print_delivery(&delivered);
            Ok::<_, anyhow::Error>(delivery_exit_code(&delivered))
        })
        .map_err(Failure::from)
}

/// 0 when every delivery went out, else [`EXIT_FAILURE`].
fn delivery_exit_code(delivered: &pipeline::DeliveryReport) -> u8 {
    if delivered.failed.is_empty() {
        0
    } else {
        EXIT_FAILURE
    }
}

/// What a fetch round came to, for the exit code.
struct Fetched {
    feeds: usize,
    failed: usize,
}

impl Fetched {
    /// [`EXIT_ALL_FEEDS_FAILED`] when there were feeds and every one failed, else 0.
    fn exit_code(&self) -> u8 {
        if self.feeds > 0 && self.failed == self.feeds {
            EXIT_ALL_FEEDS_FAILED
        } else {
            0
        }
    }
}

/// Fetches every enabled feed now (forced), with a progress bar when `interactive`, and prints the
/// per-feed report.
async fn fetch_now(ctx: &Context, interactive: bool) -> Result<Fetched, pipeline::PipelineError> {
    let reports = pipeline::fetch_all_with_progress(ctx, true, progress_bar(interactive)).await?;
    print_fetch(&reports);
    let attempted = reports
        .iter()
        .filter(|r| !matches!(r.status, FeedStatus::Skipped))
        .count();
    let failed = reports
        .iter()
        .filter(|r| matches!(r.status, FeedStatus::Failed(_)))
        .count();
    Ok(Fetched {
        feeds: attempted,
        failed,
    })
}

/// A progress bar on stderr for a fetch round (nothing unless `show`).
fn progress_bar(show: bool) -> impl FnMut(FetchProgress<'_>) {
    let mut bar: Option<indicatif::ProgressBar> = None;
    move |p| match p {
        FetchProgress::Started { feeds } if show => {
            let b = indicatif::ProgressBar::new(feeds as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} fetching [{bar:30}] {pos}/{len} {msg}",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            bar = Some(b);
        }
        FetchProgress::Started { .. } => {}
        FetchProgress::Done(r) => {
            if let Some(b) = &bar {
                b.set_message(r.feed.clone());
                b.inc(1);
            }
        }
        FetchProgress::Finished => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn print_fetch(reports: &[pipeline::FeedReport]) {
    let mut new_total = 0;
    let mut failed = 0;
    for r in reports {
        match &r.status {
            FeedStatus::Fetched { entries, new, .. } => {
                new_total += new;
                println!(
                    "fetched  {:<28} {entries:>4} entries, {new:>4} new",
                    truncate(&r.feed, 28)
                );
            }
            FeedStatus::NotModified => println!("304      {}", r.feed),
            FeedStatus::Skipped => println!("skipped  {} (not due)", r.feed),
            FeedStatus::Failed(e) => {
                failed += 1;
                println!("FAILED   {}: {e}", r.feed);
            }
        }
    }
    println!(
        "{} feeds, {new_total} new articles, {failed} failed",
        reports.len()
    );
}

fn print_build(out: &pipeline::BuildOutcome) {
    print_build_to(out, false)
}

fn print_build_to(out: &pipeline::BuildOutcome, to_stderr: bool) {
    let line = match out.digest_id {
        Some(id) => format!(
            "digest {} #{id}: {} stories from {} articles — \"{}\"",
            out.name,
            out.digest.stories.len(),
            out.article_count,
            out.digest.subject
        ),
        None if out.article_count == 0 => format!("digest {}: nothing new, not sent", out.name),
        None => format!(
            "digest {} (dry run): {} stories from {} articles — \"{}\"",
            out.name,
            out.digest.stories.len(),
            out.article_count,
            out.digest.subject
        ),
    };
    if to_stderr {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

fn print_delivery(r: &pipeline::DeliveryReport) {
    for s in &r.sent {
        println!("delivered {s}");
    }
    for f in &r.failed {
        println!("FAILED delivery {f}");
    }
}

/// `digestif tag`: reads standard input piece by piece ([`crate::ner::stream`]), so memory stays
/// flat however long the text: mentions are written as they are found (`--json`), entities at
/// the end.
fn tag(json: bool) -> Result<u8, Failure> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut tagger = crate::ner::stream::StreamTagger::new();
    let mut first = true;
    if json && !emit(&mut out, b"{\n  \"mentions\": [")? {
        return Ok(0);
    }
    let mut on_piece = |piece: &str| -> Result<bool, Failure> {
        let mentions = tagger.push(piece);
        if !json {
            return Ok(true);
        }
        for m in &mentions {
            let line = serde_json::to_string(m).context("tag JSON")?;
            let sep = if first { "\n    " } else { ",\n    " };
            first = false;
            if !emit(&mut out, format!("{sep}{line}").as_bytes())? {
                return Ok(false);
            }
        }
        Ok(true)
    };
    if !read_pieces(&mut std::io::stdin().lock(), &mut on_piece)? {
        return Ok(0);
    }
    let entities = tagger.finish();
    let text = if json {
        let list = serde_json::to_string_pretty(&entities).context("tag JSON")?;
        format!(
            "\n  ],\n  \"entities\": {}\n}}\n",
            list.replace('\n', "\n  ")
        )
    } else {
        entity_table(&entities)
    };
    if emit(&mut out, text.as_bytes())? {
        quiet_on_closed_pipe(out.flush())?;
    }
    Ok(0)
}

/// Writes `bytes`; `false` when the reader closed the pipe (then there is no point going on).
fn emit(out: &mut impl Write, bytes: &[u8]) -> Result<bool, Failure> {
    match out.write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        r => quiet_on_closed_pipe(r).map(|()| true),
    }
}

/// Reads `input` to its end and hands it on in pieces cut by [`crate::ner::stream::cut_point`]
/// (invalid UTF-8 replaced by U+FFFD); stops early, returning `false`, when `on_piece` does.
fn read_pieces(
    input: &mut impl Read,
    on_piece: &mut impl FnMut(&str) -> Result<bool, Failure>,
) -> Result<bool, Failure> {
    let mut buf: Vec<u8> = Vec::with_capacity(2 * crate::ner::stream::PIECE_BYTES);
    let mut block = vec![0u8; crate::ner::stream::PIECE_BYTES];
    loop {
        let n = match input.read(&mut block) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context("cannot read standard input")
                    .into());
            }
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&block[..n]);
        while let Some(cut) = crate::ner::stream::cut_point(&buf) {
            if !on_piece(&String::from_utf8_lossy(&buf[..cut]))? {
                return Ok(false);
            }
            buf.drain(..cut);
        }
    }
    if buf.is_empty() {
        return Ok(true);
    }
    on_piece(&String::from_utf8_lossy(&buf))
}

/// The `tag` table: one line per entity.
fn entity_table(entities: &[crate::model::Entity]) -> String {
    let mut text = format!(
        "{:<32} {:<13} {:>8} {:>6} {:>8}\n",
        "ENTITY", "KIND", "MENTIONS", "FIRST", "SALIENCE"
    );
    for e in entities {
        text += &format!(
            "{:<32} {:<13} {:>8} {:>6} {:>8.3}\n",
            truncate(&e.name, 32),
            e.kind.as_str(),
            e.mentions,
            e.first_offset,
            e.salience
        );
    }
    text
}

/// `train ner` flags as training options.
fn train_options(t: &TrainCommand) -> anyhow::Result<crate::ner::train::TrainOptions> {
    let TrainCommand::Ner {
        data,
        out,
        words_out,
        reuse_words,
        epochs,
        hash_bits,
        weights,
        clusters,
    } = t
    else {
        anyhow::bail!("not the NER trainer");
    };
    let mut o = crate::ner::train::TrainOptions::new(data.clone(), out.clone(), words_out.clone());
    o.reuse_words = *reuse_words;
    o.epochs = epochs.unwrap_or(o.epochs);
    o.hash_bits = hash_bits.unwrap_or(o.hash_bits);
    if let Some(w) = weights {
        o.set_weights(w)?;
    }
    if let Some(c) = clusters {
        let (f, k) = c.split_once(',').context("--clusters wants FINE,COARSE")?;
        o.fine_clusters = f.trim().parse().context("--clusters: fine count")?;
        o.coarse_clusters = k.trim().parse().context("--clusters: coarse count")?;
    }
    Ok(o)
}

fn eval(cmd: &EvalCommand) -> anyhow::Result<u8> {
    match cmd {
        EvalCommand::Ner {
            conll,
            gum,
            errors,
            model,
            words,
        } => {
            let loaded = match (model, words) {
                (Some(m), Some(w)) => Some(
                    crate::ner::Tagger::from_files(m, w)
                        .with_context(|| format!("loading {}", m.display()))?,
                ),
                _ => None,
            };
            let tagger = loaded
                .as_ref()
                .unwrap_or_else(|| crate::ner::Tagger::global());
            let report = match (conll, gum) {
                (Some(c), _) => crate::ner::eval::eval_conll(tagger, c, *errors)
                    .with_context(|| format!("evaluating {}", c.display()))?,
                (None, Some(g)) => crate::ner::eval::eval_gum(tagger, g, *errors)
                    .with_context(|| format!("evaluating the GUM dev split in {}", g.display()))?,
                (None, None) => anyhow::bail!("eval ner needs --conll FILE or --gum DIR"),
            };
            println!("{report}");
        }
        EvalCommand::Stories { format, file } => {
            let report = match format {
                StoryFormat::Uci => crate::stories::eval::eval_uci(file),
                StoryFormat::Basil => crate::stories::eval::eval_basil(file),
                StoryFormat::Snapshots => {
                    let report = crate::devdata::eval_snapshots(
                        file,
                        &[],
                        &crate::stories::GroupOptions::default(),
                    )
                    .with_context(|| format!("evaluating {}", file.display()))?;
                    println!("{report}");
                    return Ok(0);
                }
            }
            .with_context(|| format!("evaluating {}", file.display()))?;
            println!("{report}");
        }
        EvalCommand::Aliases { file } => {
            let report = crate::ner::eval::eval_aliases(file)
                .with_context(|| format!("evaluating {}", file.display()))?;
            println!("{report}");
        }
    }
    Ok(0)
}

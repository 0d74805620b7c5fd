//! One readable function per subcommand: load the recipe, check the outputs, do the work, say
//! what was written. The only module that talks to the terminal.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cli::{
    BenchArgs, Cli, Command, CorpusCommand, CorpusVerifyArgs, ExportCommand, ExportFeaturesArgs,
    GenerateArgs, LrFindArgs, PipelineArgs, PlanArgs, PredictArgs, QueryArgs, RecommendArgs,
    ScheduleArgs, ScheduleFormat, SlurmArgs, StackArgs, StageArgs, StatusArgs,
};
use crate::corpus::CorpusTable;
use crate::corpus::{CorpusStore, check_writable_dir, ensure_writable_dir};
use crate::device::ComputeDevice;
use crate::error::{Error, Result};
use crate::jobs::Jobs;
use crate::provenance;
use crate::recipe::search::Strategy;
use crate::recipe::shard::Shard;
use crate::recipe::{self, Plan};
use crate::runner::{self, Event, GenerateSummary};
use crate::stacks::StackOptions;
use crate::{predict, report};

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Pipeline(args) => pipeline(args, quiet),
        Command::Generate(args) => generate_command(args, quiet),
        Command::Plan(args) => plan_command(args),
        Command::Status(args) => status_command(args),
        Command::Fit(args) => fit_command(args, quiet),
        Command::Report(args) => report_command(args, quiet),
        Command::Import(args) => import_command(args, quiet),
        Command::Schedule(args) => schedule(args),
        Command::LrFind(args) => lr_find(args, quiet),
        Command::Bench(args) => bench(args),
        Command::Export(ExportCommand::Features(args)) => export_features(args, quiet),
        Command::Corpus(CorpusCommand::Verify(args)) => verify_command(args),
        Command::Corpus(CorpusCommand::Compact(args)) => compact_command(args, quiet),
        Command::Predict(args) => predict_command(args),
        Command::Recommend(args) => recommend_command(args),
        Command::Slurm(args) => slurm_command(args),
    }
}

fn status(quiet: bool, message: impl AsRef<str>) {
    if !quiet {
        eprintln!("{}", message.as_ref());
    }
}

fn load_plan(recipe: Option<&Path>) -> Result<Plan> {
    match recipe {
        Some(path) => recipe::load(path),
        None => recipe::load_default(),
    }
}

/// Validate `--stack` / `--stack-memory` / `--jobs`; the flags override the recipe's `[train]
/// stack` / `stack_memory_mib`.
fn stack_options(args: &StackArgs, plan: &Plan) -> Result<(StackOptions, Jobs)> {
    Ok((
        StackOptions::resolve(args.stack, args.stack_memory, &plan.stacking)?,
        Jobs::new(args.jobs)?,
    ))
}

/// Parse `--device`.
fn parse_device(text: &str) -> Result<ComputeDevice> {
    text.parse()
}

/// `load_plan`, then every coarse-to-fine round that the corpus under `root` already allows.
fn load_plan_at(recipe: Option<&Path>, root: &Path) -> Result<Plan> {
    let mut plan = load_plan(recipe)?;
    advance_search(&mut plan, root)?;
    Ok(plan)
}

/// Plan the coarse-to-fine rounds whose predecessors are all in the corpus; the runs added.
fn advance_search(plan: &mut Plan, root: &Path) -> Result<usize> {
    let Some(search) = &plan.search else {
        return Ok(0);
    };
    if search.settings.strategy != Strategy::CoarseToFine {
        return Ok(0);
    }
    let results =
        CorpusStore::new(root, &plan.name).metric_by_run(search.settings.metric.column())?;
    plan.advance_search(&results)
}

/// `lrcast pipeline`: generate, fit, report.
fn pipeline(args: PipelineArgs, quiet: bool) -> Result<()> {
    let root = &args.output.root;
    let mut plan = load_plan_at(args.recipe.as_deref(), root)?;
    let device = parse_device(&args.device)?;
    let (stacking, jobs) = stack_options(&args.stacking, &plan)?;
    // Check every output location before the long work starts, creating none: each stage creates
    // its own when it writes.
    device.check_available()?;
    let store = CorpusStore::new(root, &plan.name);
    store.check_writable()?;
    check_writable_dir(&predict::models_dir(root, &plan.name))?;
    check_writable_dir(&report::report_dir(root, &plan.name))?;
    let start = Instant::now();
    generate_rounds(&mut plan, root, None, device, &stacking, jobs, quiet)?;
    fit(&plan, root, quiet)?;
    write_report(&plan, root, quiet)?;
    status(
        quiet,
        format!(
            "pipeline `{}` done in {:.1} s",
            plan.name,
            start.elapsed().as_secs_f64()
        ),
    );
    Ok(())
}

fn generate_command(args: GenerateArgs, quiet: bool) -> Result<()> {
    let root = &args.output.root;
    let mut plan = load_plan_at(args.recipe.as_deref(), root)?;
    let shard = match &args.shard {
        Some(text) => Some(Shard::parse(text)?),
        None => Shard::from_slurm(|k| std::env::var(k).ok())?,
    };
    let device = parse_device(&args.device)?;
    let (stacking, jobs) = stack_options(&args.stacking, &plan)?;
    generate_rounds(&mut plan, root, shard, device, &stacking, jobs, quiet)
}

/// The runs of `plan` that `shard` trains: its slice of each search round (a grid is one round),
/// so every shard has work in every round.
fn shard_of(plan: &Plan, shard: Shard) -> Plan {
    let mut sharded = plan.clone();
    sharded.runs.clear();
    let mut rest = plan.runs.as_slice();
    while let Some(first) = rest.first() {
        let len = rest.iter().take_while(|r| r.round == first.round).count();
        let (round, tail) = rest.split_at(len);
        sharded.runs.extend_from_slice(&round[shard.range(len)]);
        rest = tail;
    }
    sharded
}

/// Train the plan, then each coarse-to-fine round its results allow, until the search is done, it
/// waits for runs of other workers (shards), or its time budget is spent.
fn generate_rounds(
    plan: &mut Plan,
    root: &Path,
    shard: Option<Shard>,
    device: ComputeDevice,
    stacking: &StackOptions,
    jobs: Jobs,
    quiet: bool,
) -> Result<()> {
    let store = CorpusStore::new(root, &plan.name);
    loop {
        let summary = match shard {
            Some(shard) => {
                let part = shard_of(plan, shard);
                status(
                    quiet,
                    format!(
                        "shard {}/{}: {} of the plan's {} runs",
                        shard.index,
                        shard.count,
                        part.runs.len(),
                        plan.runs.len()
                    ),
                );
                generate(&part, &store, device, stacking, jobs, quiet)?
            }
            None => generate(plan, &store, device, stacking, jobs, quiet)?,
        };
        if summary.out_of_time {
            status(
                quiet,
                format!(
                    "generate `{}`: search.max_hours spent; rerun to continue",
                    plan.name
                ),
            );
            return Ok(());
        }
        let added = advance_search(plan, root)?;
        let Some(search) = &plan.search else {
            return Ok(());
        };
        if added > 0 {
            status(
                quiet,
                format!(
                    "generate `{}`: round {} of {} planned from the best {} so far: {added} runs",
                    plan.name,
                    search.rounds_planned - 1,
                    search.settings.rounds,
                    search.settings.top_k
                ),
            );
            continue;
        }
        if search.rounds_planned < search.settings.rounds
            && search.settings.max_runs.is_none_or(|m| plan.runs.len() < m)
        {
            status(
                quiet,
                format!(
                    "generate `{}`: round {} waits for runs of round {} still to train (other \
                     shards or workers); rerun when they are done",
                    plan.name,
                    search.rounds_planned,
                    search.rounds_planned - 1
                ),
            );
        }
        return Ok(());
    }
}

/// `lrcast slurm`: check every value, then write the batch scripts and say how to submit them.
fn slurm_command(args: SlurmArgs) -> Result<()> {
    let plan = load_plan(Some(args.recipe.as_path()))?;
    let binary = std::env::current_exe()
        .map_err(|e| Error::Runtime(format!("cannot find the lrcast binary's path: {e}")))?;
    let request = crate::slurm::Request {
        array: args.array,
        partition: args.partition.as_deref(),
        time: args.time.as_deref(),
        cpus_per_task: args.cpus_per_task,
        mem: args.mem.as_deref(),
        recipe: &args.recipe,
        root: &args.output.root,
        out: args.out.as_deref(),
        binary: &binary,
    };
    let job = crate::slurm::SlurmJob::new(&plan, &request)?;
    let written = job.write()?;
    let (fewest, most) = job.runs_per_task();
    let per_task = if fewest == most {
        format!("{most}")
    } else {
        format!("{fewest}–{most}")
    };
    println!(
        "slurm `{}`: {} runs as {} array tasks ({per_task} runs each), then fit + report; wrote:",
        plan.name, job.runs, job.array
    );
    for path in written {
        println!("  {}", path.display());
    }
    println!("submit with: {}", job.submit_command());
    Ok(())
}

/// `--root` of a command that only reads: where it exists it must be a directory (a missing one is
/// an empty corpus, and is not created).
fn check_readable_root(root: &Path) -> Result<()> {
    match std::fs::metadata(root) {
        Ok(meta) if !meta.is_dir() => Err(Error::BadArgument {
            flag: "--root".into(),
            value: root.display().to_string(),
            message: "is a file, not a directory; pass the directory that holds datasets/corpus/"
                .into(),
        }),
        _ => Ok(()),
    }
}

/// Print `value` as one JSON object, or `text`.
fn print_summary(json: bool, value: &impl serde::Serialize, text: String) {
    match json {
        true => println!("{}", serde_json::to_string(value).expect("plain data")),
        false => print!("{text}"),
    }
}

/// `lrcast plan`: the expanded plan and an estimated time; trains and writes nothing.
fn plan_command(args: PlanArgs) -> Result<()> {
    let plan = load_plan_at(args.recipe.as_deref(), &args.output.root)?;
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let device = parse_device(&args.device)?;
    // --jobs only splits stacks between workers; the plan's stacks are those of one worker.
    let (stacking, _jobs) = stack_options(&args.stacking, &plan)?;
    if args.sample == 0 {
        return Err(Error::BadArgument {
            flag: "--sample".into(),
            value: "0".into(),
            message: "shows at least one run; pass --sample 1 or more (default 10)".into(),
        });
    }
    check_readable_root(&args.output.root)?;
    device.check_available()?;
    let store = CorpusStore::new(&args.output.root, &plan.name);
    let options = crate::planning::PlanOptions {
        shard,
        device,
        stacking,
        sample: args.sample,
    };
    let summary = crate::planning::summarize(&plan, &store, &options)?;
    print_summary(args.json, &summary, summary.to_text());
    Ok(())
}

/// `lrcast status`: how far the corpus has come; trains and writes nothing.
fn status_command(args: StatusArgs) -> Result<()> {
    check_readable_root(&args.output.root)?;
    let plan = load_plan_at(args.recipe.as_deref(), &args.output.root)?;
    let store = CorpusStore::new(&args.output.root, &plan.name);
    let summary = crate::status::summarize(&plan, &store)?;
    print_summary(args.json, &summary, summary.to_text());
    Ok(())
}

/// `lrcast corpus verify`: what is wrong with the corpus; writes nothing, exit 1 on problems.
fn verify_command(args: CorpusVerifyArgs) -> Result<()> {
    check_readable_root(&args.output.root)?;
    let plan = load_plan_at(args.recipe.as_deref(), &args.output.root)?;
    let store = CorpusStore::new(&args.output.root, &plan.name);
    let report = crate::corpus::verify::verify(&plan, &store)?;
    print_summary(args.json, &report, report.to_text());
    match report.problems {
        0 => Ok(()),
        problems => Err(Error::VerifyFailed {
            path: store.dir().to_path_buf(),
            problems,
        }),
    }
}

/// `lrcast corpus compact`: the readable parts into one compacted file.
fn compact_command(args: StageArgs, quiet: bool) -> Result<()> {
    check_readable_root(&args.output.root)?;
    let plan = load_plan(args.recipe.as_deref())?;
    let store = CorpusStore::new(&args.output.root, &plan.name);
    let start = Instant::now();
    let summary = crate::corpus::compact::compact(&store)?;
    let mut line = match &summary.file {
        Some(file) => format!(
            "compact `{}`: {} part(s) and {} compacted file(s) merged into {} ({} runs) in {:.1} s",
            plan.name,
            summary.parts_merged,
            summary.compacted_merged,
            file.display(),
            summary.runs,
            start.elapsed().as_secs_f64()
        ),
        None => format!(
            "compact `{}`: nothing to merge in {} (no new part, at most one compacted file)",
            plan.name,
            store.dir().display()
        ),
    };
    if summary.claimed_left > 0 {
        line += &format!(
            "; left {} part(s) of runs a running `generate` still claims (compact again later)",
            summary.claimed_left
        );
    }
    status(quiet, line);
    if !summary.unreadable_left.is_empty() {
        // Always said, even with -q: these files were not merged.
        eprintln!(
            "warning: left {} file(s) that cannot be read or are no lrcast run (see `lrcast \
             corpus verify`): {}",
            summary.unreadable_left.len(),
            summary
                .unreadable_left
                .iter()
                .map(|u| format!("{}: {}", u.path.display(), u.message))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(())
}

fn fit_command(args: StageArgs, quiet: bool) -> Result<()> {
    let plan = load_plan_at(args.recipe.as_deref(), &args.output.root)?;
    fit(&plan, &args.output.root, quiet)
}

fn report_command(args: StageArgs, quiet: bool) -> Result<()> {
    let plan = load_plan_at(args.recipe.as_deref(), &args.output.root)?;
    write_report(&plan, &args.output.root, quiet)
}

/// `lrcast import`: the recipe's sweep table into its corpus.
fn import_command(args: StageArgs, quiet: bool) -> Result<()> {
    let plan = load_plan(args.recipe.as_deref())?;
    let Some(settings) = &plan.import else {
        return Err(Error::recipe_value(
            &plan.source,
            "import",
            "(absent)",
            "the recipe has no [import] section; add one with path = \"sweep.csv\" and \
             [import.columns] (see README, Importing sweeps)",
        ));
    };
    let store = CorpusStore::new(&args.output.root, &plan.name);
    let summary = crate::corpus::import::import(settings, &plan.name, &store)?;
    status(
        quiet,
        format!(
            "import `{}`: {} rows of {}: imported {}, {} already in {}",
            plan.name,
            summary.rows,
            settings.path.display(),
            summary.imported,
            summary.existing,
            store.runs_dir().display()
        ),
    );
    Ok(())
}

/// Train the missing runs, with a progress bar on a terminal.
fn generate(
    plan: &Plan,
    store: &CorpusStore,
    device: ComputeDevice,
    stacking: &StackOptions,
    jobs: Jobs,
    quiet: bool,
) -> Result<GenerateSummary> {
    let progress = crate::progress::Progress::new(&plan.name, quiet);
    crate::progress::report_interrupts(&store.runs_dir());
    let workers = match jobs.workers() {
        1 => String::new(),
        n => format!(" with {n} workers"),
    };
    let on_event = |event: Event<'_>| match event {
        Event::Start { total, todo } => {
            status(
                quiet,
                format!(
                    "generate `{}`: {total} runs planned, {} already in {}, {} to train on {device}{workers}",
                    plan.name,
                    total - todo.len(),
                    store.runs_dir().display(),
                    todo.len()
                ),
            );
            progress.start(todo.iter().copied());
        }
        // A warning even when quiet: runs are trained again, and the files are kept for a look.
        Event::Quarantined { parts, dir } => progress.println(&format!(
            "warning: moved {} damaged corpus part{} to {} and will train {} again: {}",
            parts.len(),
            if parts.len() == 1 { "" } else { "s" },
            dir.display(),
            if parts.len() == 1 {
                "its run"
            } else {
                "their runs"
            },
            parts.join("; ")
        )),
        Event::StackStart { runs } => progress.stack_start(runs),
        Event::RunDone { run, outcome } => progress.run_done(run, outcome),
    };
    let summary = runner::generate(plan, store, device, stacking, jobs, &on_event)?;
    progress.finish();
    let mut line = format!(
        "generate `{}`: trained {} runs ({} diverged), skipped {} already done",
        plan.name, summary.trained, summary.diverged, summary.skipped
    );
    if summary.finished_by_others > 0 {
        line += &format!(
            ", {} finished meanwhile by other workers",
            summary.finished_by_others
        );
    }
    if summary.left_to_others > 0 {
        line += &format!(
            ", {} left to other workers still training them (claimed in {}; rerun to check they \
             finished)",
            summary.left_to_others,
            store.dir().join("claims").display()
        );
    }
    status(quiet, line);
    Ok(summary)
}

/// The corpus rows that belong to the plan, as plain columns.
fn plan_table(plan: &Plan, root: &Path, curves: bool) -> Result<CorpusTable> {
    let store = CorpusStore::new(root, &plan.name);
    let recipe_arg = if plan.source.as_os_str() == recipe::DEFAULT_SOURCE {
        "experiments/default.toml".to_string()
    } else {
        plan.source.display().to_string()
    };
    if !store.has_runs()? {
        return Err(Error::MissingInput {
            what: format!("corpus of `{}`", plan.name),
            path: store.runs_dir(),
            command: if plan.import.is_some() && plan.runs.is_empty() {
                "import".into()
            } else {
                "generate".into()
            },
            recipe: recipe_arg,
        });
    }
    // A recipe with [import] covers every run of its corpus (its grid's and every imported row);
    // otherwise only the runs of its current grid.
    let table = if plan.import.is_some() {
        CorpusTable::from_dataframe(&store.scan_columns(curves)?)?
    } else {
        let wanted: std::collections::HashSet<&str> =
            plan.runs.iter().map(|r| r.run_id.as_str()).collect();
        store.read_runs(&wanted, curves)?
    };
    if table.len == 0 {
        return Err(Error::MissingInput {
            what: format!("runs of the current grid of `{}`", plan.name),
            path: store.runs_dir(),
            command: "generate".into(),
            recipe: recipe_arg,
        });
    }
    Ok(table)
}

/// Fit predictors and save them with their scores.
fn fit(plan: &Plan, root: &Path, quiet: bool) -> Result<()> {
    let dir = predict::models_dir(root, &plan.name);
    let table = plan_table(plan, root, false)?;
    check_writable_dir(&dir)?;
    if table.len < plan.runs.len() {
        status(
            quiet,
            format!(
                "fit `{}`: note: only {} of {} planned runs are in the corpus",
                plan.name,
                table.len,
                plan.runs.len()
            ),
        );
    }
    let (fit_report, saved) = predict::fit_and_score(&plan.name, &table, &plan.fit)?;
    let changed = provenance::changed_since(&dir, &plan.recipe_text, &under_root(&dir, root));
    ensure_writable_dir(&dir)?;
    predict::save(&dir, &fit_report, &saved)?;
    let copy = dir.join(provenance::RECIPE_COPY);
    crate::corpus::write_bytes_atomically(&copy, plan.recipe_text.as_bytes())?;
    if let Some(note) = changed {
        eprintln!("{note}");
    }
    status(
        quiet,
        format!(
            "fit `{}`: {} runs, {} features, {} splits → {}",
            plan.name,
            table.len,
            fit_report.features.len(),
            fit_report.splits.len(),
            dir.display()
        ),
    );
    Ok(())
}

/// The saved models, the runs a query describes, and their answers; with `budget_steps`, the
/// epochs closest to that many steps.
fn answer_query(
    args: &QueryArgs,
    policies: Vec<toml::Value>,
    base_lrs: Vec<f64>,
    budget_steps: Option<u64>,
) -> Result<Vec<predict::query::Answer>> {
    let (saved, recipe_text, recipe_path) = predict::query::load(&args.model)?;
    let mut query = predict::query::Query {
        task: args.task.clone(),
        arch: args.arch.clone(),
        policies,
        base_lrs,
        set: args.set.clone(),
    };
    if let Some(steps) = budget_steps {
        let epochs = predict::query::epochs_for_budget(&recipe_text, &recipe_path, &query, steps)?;
        query.set.push(format!("epochs={epochs}"));
    }
    let runs = predict::query::runs(&recipe_text, &recipe_path, &query)?;
    predict::query::answer(&saved, saved.best_model.as_deref(), &runs)
}

/// Accuracy as printed: clipped to [0, 1] (the scores never clip).
fn shown(v: f64) -> String {
    format!("{:.3}", v.clamp(0.0, 1.0))
}

/// `lrcast predict`.
fn predict_command(args: PredictArgs) -> Result<()> {
    let policy = toml::Value::String(args.policy.clone());
    let answers = answer_query(&args.query, vec![policy], Vec::new(), None)?;
    if args.query.json {
        println!("{}", predict::to_json(&answers).trim_end());
        return Ok(());
    }
    for a in &answers {
        println!(
            "{} · {} · {} (base LR {})",
            a.task, a.arch, a.policy, a.base_lr
        );
        if let Some(p) = a.failure_probability {
            println!("  P(diverges or collapses) = {p:.2}  (decision tree)");
        }
        for (k, p) in a.predictions.iter().enumerate() {
            let interval = p.interval.map_or(String::new(), |(lo, hi)| {
                format!("  80 % [{}, {}]", shown(lo), shown(hi))
            });
            let lead = if k == 0 {
                "  ← best on held-out curves"
            } else {
                ""
            };
            println!("  {:<15} top-1 {}{interval}{lead}", p.model, shown(p.top1));
        }
        for w in &a.warnings {
            eprintln!("warning: {w}");
        }
    }
    println!("(accuracies clipped to [0, 1] for display)");
    Ok(())
}

/// `lrcast recommend`.
fn recommend_command(args: RecommendArgs) -> Result<()> {
    let (saved, recipe_text, _) = predict::query::load(&args.query.model)?;
    let policies = predict::query::recipe_policies(&recipe_text);
    if policies.is_empty() {
        return Err(Error::BadArgument {
            flag: "--model".into(),
            value: args.query.model.display().to_string(),
            message: "the recipe these models were fitted on has no [grid] policies to rank \
                      (its runs were imported); ask `lrcast predict --policy SPEC` per policy"
                .into(),
        });
    }
    let &(lo, hi) = saved
        .ranges
        .get("base_lr")
        .ok_or_else(|| Error::BadArgument {
            flag: "--model".into(),
            value: args.query.model.display().to_string(),
            message: "the saved models have no base-LR range; refit with `lrcast fit`".into(),
        })?;
    let mut answers = answer_query(
        &args.query,
        policies,
        predict::query::log_spaced(lo, hi, args.lrs),
        args.budget_steps,
    )?;
    answers.sort_by(|a, b| b.predictions[0].top1.total_cmp(&a.predictions[0].top1));
    answers.truncate(args.top);
    if args.query.json {
        println!("{}", predict::to_json(&answers).trim_end());
        return Ok(());
    }
    let model = answers
        .first()
        .map_or("-".to_string(), |a| a.predictions[0].model.clone());
    println!("ranked by {model} (best on held-out curves); accuracies clipped to [0, 1]");
    println!(
        "{:<44} {:>9} {:>7} {:>15} {:>7}",
        "policy", "base LR", "top-1", "80 % interval", "P(fail)"
    );
    for a in &answers {
        let p = &a.predictions[0];
        let interval = p.interval.map_or("-".to_string(), |(l, h)| {
            format!("[{}, {}]", shown(l), shown(h))
        });
        let fail = a
            .failure_probability
            .map_or("-".to_string(), |f| format!("{f:.2}"));
        println!(
            "{:<44} {:>9} {:>7} {:>15} {:>7}",
            a.policy,
            a.base_lr,
            shown(p.top1),
            interval,
            fail
        );
    }
    let mut warnings: Vec<&String> = answers.iter().flat_map(|a| &a.warnings).collect();
    warnings.sort();
    warnings.dedup();
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// `lrcast export features`: the design matrix, target and folds as CSV.
fn export_features(args: ExportFeaturesArgs, quiet: bool) -> Result<()> {
    let plan = load_plan_at(args.recipe.as_deref(), &args.output.root)?;
    let root = &args.output.root;
    let out = args
        .out
        .unwrap_or_else(|| predict::models_dir(root, &plan.name).join("features.csv"));
    let table = plan_table(&plan, root, false)?;
    let csv = predict::export_features(&table, &plan.fit)?;
    ensure_writable_dir(out.parent().unwrap_or(Path::new(".")))?;
    crate::corpus::write_bytes_atomically(&out, csv.as_bytes())?;
    status(
        quiet,
        format!(
            "export `{}`: {} runs → {}",
            plan.name,
            table.len,
            out.display()
        ),
    );
    Ok(())
}

/// Write the report from the corpus and the saved fit.
fn write_report(plan: &Plan, root: &Path, quiet: bool) -> Result<()> {
    let dir = report::report_dir(root, &plan.name);
    let models = predict::models_dir(root, &plan.name);
    if !models.join("fit.json").exists() {
        return Err(Error::MissingInput {
            what: format!("fit results of `{}`", plan.name),
            path: models.join("fit.json"),
            command: "fit".into(),
            recipe: plan.source.display().to_string(),
        });
    }
    let fit_report = predict::load_report(&models)?;
    let recipe_hash = provenance::recipe_hash(&plan.recipe_text);
    if let Some(fitted) = provenance::hash_in(&models)
        && fitted != recipe_hash
    {
        eprintln!(
            "note: {} was fitted on another version of the recipe (sha256 {fitted}, now \
             {recipe_hash}); run `lrcast fit` again for models of this one",
            under_root(&models, root),
        );
    }
    let table = plan_table(plan, root, true)?;
    check_writable_dir(&dir)?;
    let lr_find = report::lr_find::load(&dir);
    let mut report = report::build(&plan.name, &plan.description, &table, &fit_report, lr_find)?;
    if let Some(study) = &plan.study {
        let inputs = study_inputs(plan, study, quiet)?;
        report.study = Some(report::studies::analyse(study.kind, &table, &inputs)?);
    }
    let changed = provenance::changed_since(&dir, &plan.recipe_text, &under_root(&dir, root));
    ensure_writable_dir(&dir)?;
    let written = report::write_all(&dir, &report)?;
    let copy = dir.join(provenance::RECIPE_COPY);
    crate::corpus::write_bytes_atomically(&copy, plan.recipe_text.as_bytes())?;
    if let Some(note) = changed {
        eprintln!("{note}");
    }
    if let Some(study) = &report.study {
        println!("study {}: {}", study.kind.name(), study.verdict);
    }
    for e in &report.extrapolation {
        println!("{}", e.sentence);
    }
    let main: Vec<PathBuf> = written
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e != "svg"))
        .collect();
    status(
        quiet,
        format!(
            "report `{}` → {}",
            plan.name,
            main.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    Ok(())
}

/// What a study's analysis reads besides the corpus: for studies that compare with the LR range
/// test, `lr_find_repeats` range tests of every task × architecture of the plan (on the CPU, with
/// the momentum and batch size of its first run there, seeds 0, 1, …).
fn study_inputs(
    plan: &Plan,
    study: &recipe::StudySettings,
    quiet: bool,
) -> Result<report::studies::StudyInputs> {
    use crate::lrfind::{self, RangeTestConfig};
    let mut inputs = report::studies::StudyInputs::default();
    if !study.kind.needs_range_tests() {
        return Ok(inputs);
    }
    let mut seen = std::collections::HashSet::new();
    // Each task's examples are loaded once, however many architectures it is tested with.
    let mut loaded: std::collections::HashMap<String, crate::data::Dataset> = Default::default();
    for run in &plan.runs {
        let (task, arch) = (run.task.spec_string(), run.arch.spec_string());
        if !seen.insert((task.clone(), arch.clone())) {
            continue;
        }
        status(
            quiet,
            format!(
                "study {}: LR range test of {arch} on {task}, {} seeds",
                study.kind.name(),
                study.lr_find_repeats
            ),
        );
        if !loaded.contains_key(&task) {
            loaded.insert(task.clone(), run.task.load(None)?);
        }
        let data = &loaded[&task];
        let config = RangeTestConfig {
            num_steps: study.lr_find_steps,
            batch_size: run.settings.batch_size.min(run.task.train_size()),
            momentum: run.settings.momentum,
            ..RangeTestConfig::default()
        };
        config.validated()?;
        let test = lrfind::run_repeated(
            ComputeDevice::Cpu,
            &run.arch,
            data,
            &config,
            study.lr_find_repeats,
        )?;
        inputs
            .range_tests
            .push(report::studies::GroupRangeTest { task, arch, test });
    }
    Ok(inputs)
}

/// An output folder as the user knows it: relative to --root when it lies under it.
fn under_root(dir: &Path, root: &Path) -> String {
    dir.strip_prefix(root).unwrap_or(dir).display().to_string()
}

/// Parse `--arch`.
fn parse_arch(text: &str) -> Result<crate::model::Arch> {
    crate::spec::KeyValueSpec::parse(text)
        .and_then(|s| crate::model::Arch::from_spec(&s))
        .map_err(|message| Error::BadArgument {
            flag: "--arch".into(),
            value: text.into(),
            message,
        })
}

/// `--task`: a validated task.
fn parse_task(text: &str) -> Result<crate::data::Task> {
    crate::spec::KeyValueSpec::parse(text)
        .and_then(|s| crate::data::Task::from_spec(&s))
        .map_err(|message| Error::BadArgument {
            flag: "--task".into(),
            value: text.into(),
            message,
        })
}

/// `--arch` for `task`: a valid architecture whose input fits the task's examples.
fn parse_arch_for(text: &str, task: &crate::data::Task) -> Result<crate::model::Arch> {
    let arch = parse_arch(text)?;
    arch.check_input(&task.shape())
        .map_err(|message| Error::BadArgument {
            flag: "--arch".into(),
            value: text.into(),
            message: format!("cannot train on task `{}`: {message}", task.spec_string()),
        })?;
    Ok(arch)
}

/// `lrcast lr-find`: the LR range test, with the spread of every suggestion over the repeats.
fn lr_find(args: LrFindArgs, quiet: bool) -> Result<()> {
    use crate::lrfind::{self, RangeTestConfig, Suggestion};
    let bad = |flag: &str, value: &str, message: String| Error::BadArgument {
        flag: flag.into(),
        value: value.into(),
        message,
    };
    let device = parse_device(&args.device)?;
    let task = parse_task(&args.task)?;
    let arch = parse_arch_for(&args.arch, &task)?;
    let ramp = args
        .ramp
        .parse()
        .map_err(|m| bad("--ramp", &args.ramp, m))?;
    let which: Suggestion = args
        .suggestion
        .parse()
        .map_err(|m| bad("--suggestion", &args.suggestion, m))?;
    if args.repeats == 0 || args.repeats > 100 {
        return Err(bad(
            "--repeats",
            &args.repeats.to_string(),
            "must be in 1..=100".into(),
        ));
    }
    let config = RangeTestConfig {
        start_lr: args.start_lr,
        end_lr: args.end_lr,
        num_steps: args.num_steps,
        ramp,
        batch_size: args.batch_size,
        momentum: args.momentum,
        weight_decay: args.weight_decay,
        beta: args.beta,
        diverge_factor: args.diverge_factor,
        seed: args.seed,
    };
    config.validated()?;
    check_batch_fits(args.batch_size, &task)?;
    let out = (args.out.clone()).unwrap_or_else(|| args.output.root.join("reports/lr-find"));
    ensure_writable_dir(&out)?;
    status(
        quiet,
        format!(
            "lr-find: {} on {}, {} {} steps from {} to {}, {} repeat(s)",
            arch.spec_string(),
            task.spec_string(),
            config.ramp.name(),
            config.num_steps,
            config.start_lr,
            config.end_lr,
            args.repeats
        ),
    );
    let data = task.load(None)?;
    let result = lrfind::run_repeated(device, &arch, &data, &config, args.repeats)?;
    let write = |name: &str, text: String| -> Result<PathBuf> {
        let path = out.join(name);
        crate::corpus::write_bytes_atomically(&path, text.as_bytes())?;
        Ok(path)
    };
    let csv = write("lr_find.csv", lrfind::to_csv(&result))?;
    let svg = write("lr_find.svg", lrfind::plot_svg(&result)?)?;
    let json = write("lr_find.json", predict::to_json(&result))?;
    let mut order: Vec<Suggestion> = vec![which];
    order.extend(Suggestion::ALL.iter().copied().filter(|s| *s != which));
    println!(
        "suggestion  lr (geometric mean)  spread over {} repeat(s): min … max, std of log10",
        args.repeats
    );
    for s in order {
        let spread = result.spread(s);
        let fmt = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3e}"));
        println!(
            "{:<10}  {:<19}  {} … {}, {}",
            s.name(),
            fmt(spread.geometric_mean),
            fmt(spread.min),
            fmt(spread.max),
            spread.std_log10.map_or("—".into(), |v| format!("{v:.3}")),
        );
    }
    status(
        quiet,
        format!(
            "lr-find → {}, {}, {}",
            csv.display(),
            svg.display(),
            json.display()
        ),
    );
    Ok(())
}

/// Error unless `--batch-size` is in 1..=the task's training examples: a larger batch would be
/// silently cut to the data, and the timing or range test would not be of the size asked for.
fn check_batch_fits(batch_size: usize, task: &crate::data::Task) -> Result<()> {
    let available = task.train_size();
    if (1..=available).contains(&batch_size) {
        return Ok(());
    }
    Err(Error::BadArgument {
        flag: "--batch-size".into(),
        value: batch_size.to_string(),
        message: format!(
            "must be in 1..={available}, the training examples of `{}`",
            task.spec_string()
        ),
    })
}

/// `lrcast bench`: ms per training step, one JSON line per architecture.
fn bench(args: BenchArgs) -> Result<()> {
    let device = parse_device(&args.device)?;
    let task = parse_task(&args.task)?;
    check_batch_fits(args.batch_size, &task)?;
    for (flag, value, most) in [
        ("--steps", args.steps, 1_000_000),
        ("--repeats", args.repeats, 1_000),
    ] {
        if !(1..=most).contains(&value) {
            return Err(Error::BadArgument {
                flag: flag.into(),
                value: value.to_string(),
                message: format!("must be in 1..={most}"),
            });
        }
    }
    let archs = args
        .archs
        .iter()
        .map(|text| parse_arch_for(text, &task))
        .collect::<Result<Vec<_>>>()?;
    if let Some(arch) = archs
        .iter()
        .find(|a| !args.stack.is_empty() && !crate::model::stacked::is_stackable(a))
    {
        return Err(Error::BadArgument {
            flag: "--stack".into(),
            value: arch.spec_string(),
            message: "this architecture has no stacked form yet; time it without --stack".into(),
        });
    }
    if args.stack.contains(&0) {
        return Err(Error::BadArgument {
            flag: "--stack".into(),
            value: "0".into(),
            message: "a stack has at least one member".into(),
        });
    }
    let budget = crate::stacks::DEFAULT_MEMORY_BUDGET_MIB << 20;
    for arch in &archs {
        let member = crate::model::stacked::memory::member_bytes(
            arch,
            &task.shape(),
            task.num_classes(),
            args.batch_size,
        );
        let largest = args.stack.iter().copied().max().unwrap_or(1);
        if member.saturating_mul(largest as u64) > budget {
            let (flag, value) = match args.stack.is_empty() {
                true => ("--batch-size", args.batch_size),
                false => ("--stack", largest),
            };
            return Err(Error::BadArgument {
                flag: flag.into(),
                value: value.to_string(),
                message: format!(
                    "{} at batch {} needs about {} MiB per model, over the {} MiB a timed stack \
                     may use; time fewer members or a smaller batch",
                    arch.spec_string(),
                    args.batch_size,
                    member >> 20,
                    budget >> 20
                ),
            });
        }
    }
    let data = task.load(None)?;
    let show = |timing: &crate::train::bench::StepTiming| match args.json {
        true => println!("{}", serde_json::to_string(timing).expect("plain data")),
        false => println!("{}", crate::train::bench::table_row(timing)),
    };
    if !args.json {
        println!("{}", crate::train::bench::table_header());
    }
    for arch in &archs {
        let sizes = crate::train::bench::Sizes {
            batch_size: args.batch_size,
            warmup: crate::train::bench::WARMUP_STEPS,
            steps: args.steps,
            repeats: args.repeats,
            readback_every: crate::train::run::readback_every(device),
        };
        show(&crate::train::bench::time_steps(
            device, arch, &data, sizes, None,
        )?);
        for &members in &args.stack {
            show(&crate::train::bench::time_steps(
                device,
                arch,
                &data,
                sizes,
                Some(members),
            )?);
        }
    }
    Ok(())
}

/// `lrcast schedule`: print `step,lr[,momentum]`, or the policy table with `--list`.
fn schedule(args: ScheduleArgs) -> Result<()> {
    use crate::schedule::{GRAMMAR_HELP, LrPolicy, PolicySpec, ScheduleContext, policy_table};
    if args.list {
        for info in policy_table() {
            println!("{info}\n");
        }
        println!("{GRAMMAR_HELP}");
        return Ok(());
    }
    let (text, steps) = (args.policy.unwrap_or_default(), args.steps.unwrap_or(0));
    let bad = |flag: &str, value: String, message: &str| Error::BadArgument {
        flag: flag.into(),
        value,
        message: message.into(),
    };
    if steps == 0 {
        return Err(bad("--steps", "0".into(), "must be at least 1"));
    }
    if steps > 100_000_000 {
        return Err(bad(
            "--steps",
            steps.to_string(),
            "at most 100000000 steps can be printed",
        ));
    }
    if args.steps_per_epoch == 0 {
        return Err(bad("--steps-per-epoch", "0".into(), "must be at least 1"));
    }
    let policy_error = |source| Error::policy("--policy", source);
    let spec = PolicySpec::parse(&text).map_err(policy_error)?;
    let ctx = ScheduleContext {
        total_steps: steps,
        steps_per_epoch: args.steps_per_epoch,
    };
    let policy = LrPolicy::build(&spec, &ctx).map_err(policy_error)?;
    if policy.is_metric_driven() {
        return Err(bad(
            "--policy",
            text,
            "`plateau` is metric-driven: its LR follows the training loss epoch by epoch, so it has no \
             fixed sequence to print; use it in a recipe, or print a closed-form policy",
        ));
    }
    if let Some(path) = &args.plot {
        // Check the output before printing anything.
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            ensure_writable_dir(parent)?;
        }
    }
    let lrs = policy.lr_series(0, steps as usize);
    let momentum: Option<Vec<f64>> = policy.momentum(0).is_some().then(|| {
        (0..steps)
            .map(|t| policy.momentum(t).unwrap_or(f64::NAN))
            .collect()
    });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match args.format {
        ScheduleFormat::Csv => write_schedule_csv(&mut out, &lrs, momentum.as_deref()),
        ScheduleFormat::Json => {
            let json = serde_json::json!({
                "policy": spec.to_string(),
                "name": policy.name(),
                "steps": steps,
                "steps_per_epoch": args.steps_per_epoch,
                "parameters": json_object(policy.parameters()),
                "features": json_object(policy.hyperparameters()),
                "lr": lrs,
                "momentum": momentum,
            });
            std::io::Write::write_all(&mut out, format!("{json}\n").as_bytes())
        }
    };
    // A closed pipe (e.g. `| head`) is not an error worth reporting.
    if let Err(e) = written.and_then(|_| std::io::Write::flush(&mut out))
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(Error::Runtime(format!("writing the schedule: {e}")));
    }
    if let Some(path) = &args.plot {
        let svg =
            report::figures::schedule::schedule(&spec.to_string(), &lrs, momentum.as_deref())?;
        crate::corpus::write_bytes_atomically(path, svg.as_bytes())?;
    }
    Ok(())
}

/// `(key, value)` pairs as one JSON object.
fn json_object<T: serde::Serialize>(pairs: Vec<(String, T)>) -> serde_json::Value {
    pairs
        .into_iter()
        .map(|(k, v)| (k, serde_json::json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn write_schedule_csv(
    out: &mut impl std::io::Write,
    lrs: &[f64],
    momentum: Option<&[f64]>,
) -> std::io::Result<()> {
    match momentum {
        Some(m) => {
            writeln!(out, "step,lr,momentum")?;
            for (t, (lr, m)) in lrs.iter().zip(m).enumerate() {
                writeln!(out, "{t},{lr:?},{m:?}")?;
            }
        }
        None => {
            writeln!(out, "step,lr")?;
            for (t, lr) in lrs.iter().enumerate() {
                writeln!(out, "{t},{lr:?}")?;
            }
        }
    }
    Ok(())
}

//! A private single-node Slurm cluster for tests: its own munged (own key and socket), slurmctld
//! and slurmd on free localhost ports, with config, state, spool and logs in a temporary
//! directory, so it shares nothing with a Slurm or munge already running on the machine. Dropping
//! it cancels its jobs and stops the daemons by the pids in their pid files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The packages that provide the programs (Debian / Ubuntu names).
pub const PACKAGES: &str = "slurmctld slurmd slurm-client munge";

/// A running cluster; see the module doc.
pub struct SlurmCluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
    /// Started daemons in start order: name and pid (read from the pid file right after start,
    /// because the daemons delete it when they exit).
    daemons: Vec<(&'static str, i32)>,
    /// The user the daemons run as and jobs run for.
    user: String,
}

/// `program` on PATH or in the sbin directories (not on a non-root user's PATH on Debian).
fn find_program(program: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("`{program}` not found"))
}

/// Two distinct TCP ports nobody listens on now (the OS picks them; both are held until both are
/// known, so they differ; a small race with other processes is accepted, and would show as a
/// daemon that fails to start, with its log).
fn free_ports() -> Result<(u16, u16), String> {
    let bind = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("no free localhost port: {e}"))
    };
    let (a, b) = (bind()?, bind()?);
    let port = |l: &std::net::TcpListener| {
        l.local_addr()
            .map(|a| a.port())
            .map_err(|e| format!("no free localhost port: {e}"))
    };
    Ok((port(&a)?, port(&b)?))
}

/// Whether `pid` is a live process (a zombie counts as gone).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Poll `ready` every 100 ms until it holds or `timeout` passes.
fn wait_for(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    ready()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl SlurmCluster {
    /// Start munged, slurmctld and slurmd and wait until the node is idle; the error says why it
    /// could not (a missing program, a daemon that did not start, with the end of its log).
    pub fn start() -> Result<Self, String> {
        let programs = [
            "munged",
            "slurmctld",
            "slurmd",
            "sbatch",
            "squeue",
            "scontrol",
        ];
        for program in programs {
            find_program(program)?;
        }
        let dir = tempfile::Builder::new()
            .prefix("lrcast-slurm-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let mut cluster = Self {
            conf: dir.path().join("slurm.conf"),
            dir,
            daemons: Vec::new(),
            user: current_user()?,
        };
        let d = cluster.dir.path().to_path_buf();
        for sub in ["state", "spool", "log"] {
            std::fs::create_dir(d.join(sub)).map_err(|e| format!("{sub}: {e}"))?;
        }
        // munged refuses a socket in a directory others cannot search, and a key others can read.
        set_mode(&d, 0o755)?;
        let key: Vec<u8> = (0..1024).map(|_| rand::random::<u8>()).collect();
        std::fs::write(d.join("munge.key"), key).map_err(|e| format!("munge key: {e}"))?;
        set_mode(&d.join("munge.key"), 0o600)?;
        let socket = d.join("munge.socket");
        cluster.start_daemon(
            "munged",
            &[
                format!("--socket={}", socket.display()),
                format!("--key-file={}", d.join("munge.key").display()),
                format!("--log-file={}", d.join("log/munged.log").display()),
                format!("--pid-file={}", d.join("munged.pid").display()),
                format!("--seed-file={}", d.join("munged.seed").display()),
            ],
        )?;

        let node = node_line()?;
        let (ctld_port, slurmd_port) = free_ports()?;
        let config = format!(
            "# A private single-node cluster for lrcast's tests.\n\
             ClusterName=lrcasttest\n\
             SlurmctldHost=localhost(127.0.0.1)\n\
             SlurmctldPort={ctld_port}\n\
             SlurmdPort={slurmd_port}\n\
             SlurmUser={user}\n\
             SlurmdUser={user}\n\
             AuthType=auth/munge\n\
             CredType=cred/munge\n\
             AuthInfo=socket={socket}\n\
             StateSaveLocation={d}/state\n\
             SlurmdSpoolDir={d}/spool\n\
             SlurmctldPidFile={d}/slurmctld.pid\n\
             SlurmdPidFile={d}/slurmd.pid\n\
             SlurmctldLogFile={d}/log/slurmctld.log\n\
             SlurmdLogFile={d}/log/slurmd.log\n\
             # No cgroups: plain process tracking, no task binding (works in a container).\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core\n\
             AccountingStorageType=accounting_storage/none\n\
             JobCompType=jobcomp/none\n\
             JobAcctGatherType=jobacct_gather/none\n\
             MailProg=/bin/true\n\
             ReturnToService=2\n\
             {node} NodeAddr=127.0.0.1\n\
             PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
            user = cluster.user,
            socket = socket.display(),
            d = d.display(),
        );
        std::fs::write(&cluster.conf, config).map_err(|e| format!("slurm.conf: {e}"))?;
        cluster.start_daemon("slurmctld", &[])?;
        cluster.start_daemon("slurmd", &[])?;
        let idle = wait_for(Duration::from_secs(30), || {
            cluster
                .command("sinfo")
                .args(["-h", "-o", "%T"])
                .output()
                .is_ok_and(|o| o.status.success() && text(&o).trim() == "idle")
        });
        if !idle {
            return Err(format!(
                "the node did not become idle within 30 s\n{}",
                cluster.daemon_logs()
            ));
        }
        Ok(cluster)
    }

    /// Start a daemon (it forks into the background) and read its pid file.
    fn start_daemon(&mut self, name: &'static str, args: &[String]) -> Result<(), String> {
        let program = find_program(name)?;
        let out = self
            .command(program.to_str().unwrap_or(name))
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        // The daemon creates its pid file, then writes the pid: wait for a number, not the file.
        let pid_file = self.dir.path().join(format!("{name}.pid"));
        let read_pid = || {
            std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
        };
        wait_for(Duration::from_secs(10), || read_pid().is_some());
        let pid = read_pid();
        // Whatever is running gets stopped on drop, also when the start is reported as failed.
        if let Some(pid) = pid {
            self.daemons.push((name, pid));
        }
        match pid {
            Some(_) if out.status.success() => Ok(()),
            _ => Err(format!(
                "{name} did not start ({}): {}\n{}",
                out.status,
                text(&out).trim(),
                self.daemon_logs()
            )),
        }
    }

    /// A Slurm client command (or any program) pointed at this cluster.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("SLURM_CONF", &self.conf);
        command
    }

    /// Wait until no job is pending or running, at most `timeout` (a bound against a hang, not a
    /// speed check).
    pub fn wait_until_idle(&self, timeout: Duration) -> Result<(), String> {
        let mut last = String::new();
        let empty = wait_for(timeout, || {
            match self.command("squeue").arg("-h").output() {
                Ok(out) if out.status.success() => {
                    last = text(&out);
                    last.trim().is_empty()
                }
                Ok(out) => {
                    last = text(&out);
                    false
                }
                Err(e) => {
                    last = e.to_string();
                    false
                }
            }
        });
        if empty {
            Ok(())
        } else {
            Err(format!(
                "jobs still queued after {timeout:?}:\n{last}\n{}",
                self.daemon_logs()
            ))
        }
    }

    /// `scontrol show job -o JOB`: one line per job (per task of an array), with JobState and
    /// ExitCode. Finished jobs stay listed for MinJobAge (300 s by default).
    pub fn show_job(&self, job: &str) -> Vec<String> {
        self.command("scontrol")
            .args(["show", "job", "-o", job])
            .output()
            .map(|o| text(&o).lines().map(String::from).collect())
            .unwrap_or_default()
    }

    /// The end of every daemon log, for failure messages.
    pub fn daemon_logs(&self) -> String {
        let mut all = String::new();
        for name in ["munged", "slurmctld", "slurmd"] {
            let path = self.dir.path().join(format!("log/{name}.log"));
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            all.push_str(&format!("--- {} (end)\n{tail}\n", path.display()));
        }
        all
    }
}

impl Drop for SlurmCluster {
    fn drop(&mut self) {
        // Cancel what is still queued or running (a failed or timed-out test), so no job outlives
        // the cluster; then stop the daemons in reverse start order.
        if self.daemons.iter().any(|(name, _)| *name == "slurmctld") {
            let _ = self
                .command("scancel")
                .arg("--full")
                .args(["--user", &self.user])
                .output();
            let _ = wait_for(Duration::from_secs(10), || {
                self.command("squeue")
                    .arg("-h")
                    .output()
                    .map_or(true, |o| text(&o).trim().is_empty())
            });
        }
        for &(_, pid) in self.daemons.iter().rev() {
            // SAFETY: signals a process this cluster started, by the pid from its own pid file.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            if !wait_for(Duration::from_secs(10), || !alive(pid)) {
                // SAFETY: as above.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

/// This machine's node line (`NodeName=… CPUs=… RealMemory=…`) as slurmd sees it.
fn node_line() -> Result<String, String> {
    let out = Command::new(find_program("slurmd")?)
        .arg("-C")
        .output()
        .map_err(|e| format!("slurmd -C: {e}"))?;
    text(&out)
        .lines()
        .find(|l| l.starts_with("NodeName="))
        .map(String::from)
        .ok_or_else(|| format!("slurmd -C printed no node line: {}", text(&out)))
}

/// The user the daemons run as and jobs run for (root in CI).
fn current_user() -> Result<String, String> {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .map_err(|e| format!("id -un: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

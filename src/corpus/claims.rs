//! Claims on runs, so that workers sharing a corpus — threads of one `generate`, processes on one
//! machine, machines sharing the corpus over NFS — never train the same run at once: one file per
//! run in training, `claims/<run_id>.claim`, created atomically (`O_EXCL`) and holding its owner,
//! with a lease that a heartbeat renews and that expires when its owner dies.
//!
//! A claim is taken over when its lease expired (mtime older than [`CLAIM_LEASE`]), or at once when
//! it names a process of this same kernel and pid namespace that no longer exists (a `kill -9`'d or
//! interrupted `generate` on this machine, rerun). A claim from another machine is only ever judged
//! by its lease: its pid means nothing here. Claims only decide who trains; a run counts as done by
//! its part file alone, so a claim left behind never hides a run.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};

/// How long a claim lives without renewal. A live worker renews its claims every
/// [`HEARTBEAT`] (45 s); on NFS another machine may see that renewal up to a minute late (attribute
/// caching, `acregmax` 60 s by default), so a live claim looks at most ≈ 105 s old. Three minutes
/// leaves over a minute for a heartbeat delayed by a loaded machine and for clock differences, while
/// a claim of a worker killed on another machine is taken over within three minutes.
pub const CLAIM_LEASE: Duration = Duration::from_secs(180);

/// How often a worker renews its claims: a quarter of the lease, so three renewals can be missed
/// before the lease runs out.
pub const HEARTBEAT: Duration = Duration::from_secs(45);

/// The claim file's extension.
const CLAIM_EXT: &str = "claim";

/// Whether a run could be claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This worker holds it now.
    Acquired,
    /// A live worker elsewhere (or another thread here) holds it.
    HeldByOther,
}

/// Who holds a claim: enough to tell, on the same machine, whether that process still lives.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    host: String,
    pid: u32,
    /// The kernel's boot id and the pid namespace: equal to ours means a pid check is meaningful.
    boot_id: String,
    pid_ns: String,
    /// The process's start time in clock ticks since boot (`/proc/<pid>/stat`, field 22), so a
    /// reused pid is not mistaken for the owner.
    start: u64,
}

impl Owner {
    /// This process.
    fn this_process() -> &'static Owner {
        static THIS: OnceLock<Owner> = OnceLock::new();
        THIS.get_or_init(|| {
            let pid = std::process::id();
            Owner {
                host: super::store::host_name().to_string(),
                pid,
                boot_id: fs::read_to_string("/proc/sys/kernel/random/boot_id")
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default(),
                pid_ns: fs::read_link("/proc/self/ns/pid")
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                start: process_start(pid).map_or(0, |(start, _)| start),
            }
        })
    }

    /// The claim file's text, with the claim's token.
    fn to_text(&self, token: u64) -> String {
        let since = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!(
            "host={}\npid={}\nboot_id={}\npid_ns={}\nstart={}\ntoken={token:016x}\nsince={since}\n",
            self.host, self.pid, self.boot_id, self.pid_ns, self.start
        )
    }

    /// Parse a claim file's text (`None` when incomplete: it is being written, or was cut short).
    fn parse(text: &str) -> Option<Owner> {
        let fields: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        Some(Owner {
            host: fields.get("host")?.to_string(),
            pid: fields.get("pid")?.parse().ok()?,
            boot_id: fields.get("boot_id")?.to_string(),
            pid_ns: fields.get("pid_ns")?.to_string(),
            start: fields.get("start")?.parse().ok()?,
        })
        .filter(|_| fields.contains_key("since"))
    }

    /// `Some(alive)` when the owner runs under this kernel and pid namespace, so its pid can be
    /// checked here; `None` otherwise (another machine or container: only the lease can tell).
    fn alive_here(&self) -> Option<bool> {
        let me = Self::this_process();
        if me.boot_id.is_empty() || self.boot_id != me.boot_id || self.pid_ns != me.pid_ns {
            return None;
        }
        Some(match process_start(self.pid) {
            // A zombie (killed, not yet reaped) is dead.
            Some((start, state)) => start == self.start && state != 'Z',
            None => false,
        })
    }
}

/// Start time (ticks since boot) and state of process `pid`, from `/proc/<pid>/stat`.
fn process_start(pid: u32) -> Option<(u64, char)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Field 3 is the state; the start time is field 22, i.e. the 20th after the state.
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state))
}

/// Set a file's modification time to now, by the clock of the filesystem's server (NFS sets
/// `UTIME_NOW` on the server, as it does for the creation time), so all claims' ages compare on
/// one clock.
fn touch(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("path holds a NUL byte"))?;
    // SAFETY: a valid NUL-terminated path; a null `times` means "now" for both timestamps.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c_path.as_ptr(), std::ptr::null(), 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Held claims (run id → token) and the heartbeat's stop signal, shared with the heartbeat thread.
#[derive(Default)]
struct Held {
    claims: Mutex<HashMap<String, u64>>,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// The claims of one `generate` process on one corpus: claim, renew (a heartbeat thread), release.
/// Dropping it releases every claim still held (a worker that failed frees its runs at once).
pub struct ClaimBook {
    dir: PathBuf,
    held: Arc<Held>,
    heartbeat: Option<JoinHandle<()>>,
    /// Filesystem clock minus this machine's clock, measured once, so lease ages are read on the
    /// clock that wrote the mtimes.
    clock_offset: f64,
}

impl ClaimBook {
    /// The claims of the corpus at `corpus_dir` (`corpus_dir/claims/`), with a running heartbeat.
    pub fn open(corpus_dir: &Path) -> Result<Self> {
        Self::open_with_heartbeat(corpus_dir, HEARTBEAT)
    }

    /// [`Self::open`] with a heartbeat every `period` (tests).
    fn open_with_heartbeat(corpus_dir: &Path, period: Duration) -> Result<Self> {
        let dir = corpus_dir.join("claims");
        super::store::ensure_writable_dir(&dir)?;
        let clock_offset = filesystem_clock_offset(&dir).unwrap_or(0.0);
        let held = Arc::new(Held::default());
        let heartbeat = {
            let (held, beat_dir) = (held.clone(), dir.clone());
            std::thread::Builder::new()
                .name("claim-heartbeat".into())
                .spawn(move || renew_until_stopped(&held, &beat_dir, period))
                .map_err(|e| Error::io(&dir, e))?
        };
        Ok(Self {
            dir,
            held,
            heartbeat: Some(heartbeat),
            clock_offset,
        })
    }

    /// The claim file of `run_id`.
    pub fn path(&self, run_id: &str) -> PathBuf {
        self.dir.join(format!("{run_id}.{CLAIM_EXT}"))
    }

    /// Claim `run_id`: create its claim file, or take over one whose owner is gone.
    pub fn try_claim(&self, run_id: &str) -> Result<Claim> {
        let path = self.path(run_id);
        // A takeover can lose a race to another worker's; a few rounds settle it.
        for _ in 0..3 {
            let token = rand::random::<u64>();
            match create_with_text(&path, &Owner::this_process().to_text(token)) {
                Ok(()) => {
                    self.held
                        .claims
                        .lock()
                        .expect("claims lock")
                        .insert(run_id.to_string(), token);
                    return Ok(Claim::Acquired);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let Some(seen) = self.expired(&path) else {
                        return Ok(Claim::HeldByOther);
                    };
                    take_over(&path, &seen);
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Ok(Claim::HeldByOther)
    }

    /// The text of the claim at `path` when its owner is gone (lease expired, or a dead process
    /// on this machine); `None` while it is held (or when it vanished: retry).
    fn expired(&self, path: &Path) -> Option<String> {
        let modified = fs::metadata(path).and_then(|m| m.modified()).ok()?;
        let text = fs::read_to_string(path).ok()?;
        if lease_expired(modified, self.clock_offset) {
            return Some(text);
        }
        match Owner::parse(&text)?.alive_here() {
            Some(false) => Some(text),
            _ => None,
        }
    }

    /// Give up the claim on `run_id` (after its part is written, or when this worker stops).
    pub fn release(&self, run_id: &str) {
        let token = self.held.claims.lock().expect("claims lock").remove(run_id);
        if let Some(token) = token {
            let path = self.path(run_id);
            // Only our own claim: a worker that took it over (after a stall here) keeps its own.
            if holds_token(&path, token) {
                let _ = fs::remove_file(&path);
            }
        }
    }

    /// Remove the claim files of finished runs (`is_done`): a worker killed after writing a part
    /// but before removing its claim leaves one. Safe whoever holds it, as nobody trains a finished
    /// run (a holder's release and heartbeat leave a claim they no longer find alone); cosmetic,
    /// as a claim never makes a run count as done or not done.
    pub fn remove_claims_of(&self, is_done: impl Fn(&str) -> bool) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let (Some(stem), Some(ext)) = (path.file_stem(), path.extension()) else {
                continue;
            };
            if ext == CLAIM_EXT && is_done(&stem.to_string_lossy()) {
                let _ = fs::remove_file(&path);
            }
        }
    }
}

impl Drop for ClaimBook {
    fn drop(&mut self) {
        *self.held.stop.lock().expect("claims lock") = true;
        self.held.wake.notify_all();
        if let Some(heartbeat) = self.heartbeat.take() {
            let _ = heartbeat.join();
        }
        let ids: Vec<String> = self
            .held
            .claims
            .lock()
            .expect("claims lock")
            .keys()
            .cloned()
            .collect();
        for id in ids {
            self.release(&id);
        }
    }
}

/// A claim file found on disk: its run, path, and whether its lease has expired (judged by this
/// machine's clock against the file's mtime: enough for `compact` and `verify`, which only read).
#[derive(Debug, Clone)]
pub struct ClaimFile {
    pub run_id: String,
    pub path: PathBuf,
    pub expired: bool,
}

/// Every claim file of the corpus at `corpus_dir` (none when `claims/` is absent); creates nothing.
pub fn claim_files(corpus_dir: &Path) -> Vec<ClaimFile> {
    let Ok(entries) = fs::read_dir(corpus_dir.join("claims")) else {
        return Vec::new();
    };
    let mut claims: Vec<ClaimFile> = entries
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            if path.extension()? != CLAIM_EXT {
                return None;
            }
            let run_id = path.file_stem()?.to_string_lossy().into_owned();
            let modified = entry.metadata().and_then(|m| m.modified()).ok()?;
            Some(ClaimFile {
                run_id,
                path,
                expired: lease_expired(modified, 0.0),
            })
        })
        .collect();
    claims.sort_by(|a, b| a.path.cmp(&b.path));
    claims
}

/// Whether a claim last renewed at `modified` (filesystem clock) is older than the lease.
fn lease_expired(modified: SystemTime, clock_offset: f64) -> bool {
    let now = SystemTime::now();
    let age = match now.duration_since(modified) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    } + clock_offset;
    age > CLAIM_LEASE.as_secs_f64()
}

/// Whether the claim file at `path` still carries `token`.
fn holds_token(path: &Path, token: u64) -> bool {
    fs::read_to_string(path).is_ok_and(|text| text.contains(&format!("token={token:016x}\n")))
}

/// Move the expired claim at `path` (whose text was `seen`) out of the way so that a new one can
/// be created. The move is a rename to a name of our own, which only one worker can win; if what
/// we moved is not the claim we judged (another worker took it over in between and made a fresh
/// one), it is put back.
/// Create `path` holding `text`, or fail with `AlreadyExists`: the text goes to a temporary sibling
/// that is then hard-linked to the name (atomic, also over NFS), so a claim is never seen empty —
/// a worker killed between creating a claim and writing its owner would otherwise leave one that
/// is respected until its lease runs out.
fn create_with_text(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(".{name}{}", super::store::temp_suffix()));
    let linked = fs::write(&temp, text).and_then(|()| fs::hard_link(&temp, path));
    let _ = fs::remove_file(&temp);
    linked
}

fn take_over(path: &Path, seen: &str) {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let aside = dir.join(format!(".{name}{}", super::store::temp_suffix()));
    if fs::rename(path, &aside).is_err() {
        return; // someone else moved it first
    }
    if fs::read_to_string(&aside).is_ok_and(|text| text != seen) {
        // A fresh claim: back in place unless yet another one appeared (then that one stands).
        let _ = fs::hard_link(&aside, path);
    }
    let _ = fs::remove_file(&aside);
}

/// The heartbeat: every `period`, renew each held claim, and forget one another worker took over
/// (it stays theirs).
fn renew_until_stopped(held: &Held, dir: &Path, period: Duration) {
    let mut stop = held.stop.lock().expect("claims lock");
    loop {
        stop = held.wake.wait_timeout(stop, period).expect("claims lock").0;
        if *stop {
            return;
        }
        let mut claims = held.claims.lock().expect("claims lock");
        claims.retain(|id, token| {
            let path = dir.join(format!("{id}.{CLAIM_EXT}"));
            holds_token(&path, *token) && touch(&path).is_ok()
        });
    }
}

/// Filesystem clock minus this machine's, in seconds, from the mtime of a file created now.
fn filesystem_clock_offset(dir: &Path) -> Option<f64> {
    let probe = dir.join(format!(".clock{}", super::store::temp_suffix()));
    let before = SystemTime::now();
    fs::File::create(&probe).ok()?;
    let modified = fs::metadata(&probe).and_then(|m| m.modified());
    let _ = fs::remove_file(&probe);
    let offset = match modified.ok()?.duration_since(before) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    // Within a second the clocks agree (and mtimes may be coarse): no correction.
    Some(if offset.abs() < 1.0 { 0.0 } else { offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_exclusive_until_released_or_expired() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            ClaimBook::open(dir.path()).unwrap(),
            ClaimBook::open(dir.path()).unwrap(),
        );
        assert_eq!(a.try_claim("r1").unwrap(), Claim::Acquired);
        // Held by a live process (this one): respected.
        assert_eq!(b.try_claim("r1").unwrap(), Claim::HeldByOther);
        a.release("r1");
        assert!(!a.path("r1").exists());
        assert_eq!(b.try_claim("r1").unwrap(), Claim::Acquired);
        // An expired lease is taken over, whoever holds it; the old holder's release leaves the
        // new claim alone.
        let file = fs::File::options().write(true).open(b.path("r1")).unwrap();
        file.set_modified(SystemTime::now() - 2 * CLAIM_LEASE)
            .unwrap();
        assert_eq!(a.try_claim("r1").unwrap(), Claim::Acquired);
        b.release("r1");
        assert!(a.path("r1").exists());
        // Dropping the book releases what it holds.
        drop(a);
        assert!(!b.path("r1").exists());
    }

    #[test]
    fn a_claim_of_a_dead_process_here_is_taken_over_and_another_machines_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let book = ClaimBook::open(dir.path()).unwrap();
        let me = Owner::this_process();
        // A pid that no longer runs (a child that exited and was reaped).
        let child = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = child.id();
        let _ = { child }.wait();
        let dead = Owner {
            pid: dead_pid,
            ..me.clone()
        };
        fs::write(book.path("dead"), dead.to_text(1)).unwrap();
        assert_eq!(dead.alive_here(), Some(false));
        assert_eq!(book.try_claim("dead").unwrap(), Claim::Acquired);
        // The same pid on another machine: only its lease counts.
        let elsewhere = Owner {
            boot_id: "another-kernel".into(),
            pid: dead_pid,
            ..me.clone()
        };
        assert_eq!(elsewhere.alive_here(), None);
        fs::write(book.path("far"), elsewhere.to_text(2)).unwrap();
        assert_eq!(book.try_claim("far").unwrap(), Claim::HeldByOther);
        // An empty claim (its owner is writing it) is respected too.
        fs::write(book.path("new"), "").unwrap();
        assert_eq!(book.try_claim("new").unwrap(), Claim::HeldByOther);
        assert_eq!(Owner::parse(&me.to_text(3)).as_ref(), Some(me));
        assert_eq!(me.alive_here(), Some(true));
    }

    #[test]
    fn the_heartbeat_renews_held_claims_and_drops_lost_ones() {
        let dir = tempfile::tempdir().unwrap();
        let book = ClaimBook::open_with_heartbeat(dir.path(), Duration::from_millis(20)).unwrap();
        assert_eq!(book.try_claim("mine").unwrap(), Claim::Acquired);
        assert_eq!(book.try_claim("lost").unwrap(), Claim::Acquired);
        let old = SystemTime::now() - Duration::from_secs(100);
        let age = |id: &str| {
            fs::File::options()
                .write(true)
                .open(book.path(id))
                .unwrap()
                .set_modified(old)
                .unwrap()
        };
        age("mine");
        // Another worker took "lost" over (after a stall here): its claim must stay as it is.
        fs::write(book.path("lost"), Owner::this_process().to_text(7)).unwrap();
        age("lost");
        std::thread::sleep(Duration::from_millis(200));
        let modified = |id: &str| fs::metadata(book.path(id)).unwrap().modified().unwrap();
        assert!(modified("mine") > old + Duration::from_secs(90));
        assert_eq!(modified("lost"), old);
        book.release("lost");
        assert!(book.path("lost").exists(), "not ours to remove");
    }
}

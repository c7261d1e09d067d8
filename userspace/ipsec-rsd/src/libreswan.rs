// SPDX-License-Identifier: GPL-2.0

//! The libreswan back end: recovery through pluto's `ipsec whack`.
//!
//! Measured against libreswan 4.10 (Debian 12) with a strongSwan or a
//! libreswan peer, in the guide's reboot scenario:
//!
//! * what makes the peer drop its stale SAs is INITIAL_CONTACT in a fresh
//!   IKE_AUTH, and libreswan 4.10 sends it only with `initial-contact=yes`
//!   in the connection (its default is no, whatever the man page says).
//!   The start-up check reads `whack --status` and warns when it is off;
//! * after a reboot pluto has no state for the peer: `whack --crash` only
//!   answers `restarting peer` and does nothing useful, so it is not run.
//!   A synchronous `whack --name CONN --initiate` does the work; its
//!   output says whether the Child SA was established and whether
//!   INITIAL_CONTACT was sent.  It can block through pluto's
//!   retransmissions, so it runs under a time limit;
//! * when pluto still runs and holds an IKE SA with the peer (only the
//!   kernel's SAs were lost), a plain initiate would reuse that IKE SA and
//!   leave the peer's stale CHILD_SA in place.  There `whack --crash PEER`
//!   helps: pluto deletes its IKE SA (a Delete the peer honours, dropping
//!   the stale CHILD_SA) and re-establishes the connection by itself.  The
//!   back end then waits for that new Child SA instead of initiating a
//!   second one (which left the peer with two CHILD_SAs);
//! * right after a reboot `whack` exits 33 with `Pluto is not running` (or
//!   `is Pluto running?  connect() ... failed` while the socket is not
//!   accepting yet), then answers `024 need --listen before --initiate`
//!   (exit 24) while pluto is still starting (its crypto self-tests take
//!   seconds), and prints `021 no connection named "X"` (exit 0 with
//!   `--asynchronous`, 21 without) while the connection is not loaded yet:
//!   all are retried (the worker retries transient failures for
//!   `retry_secs`);
//! * a recovery succeeds only once `whack --showstates` lists an
//!   established IKE SA and an established Child SA of the connection.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::backend::{Backend, Failure};
use crate::config::{Config, Peer};

/// Exit status of `whack` when pluto's control socket is absent.
pub const WHACK_NOT_RUNNING: i32 = 33;
/// At most this long for a status query or `--crash`.
const QUERY_LIMIT: Duration = Duration::from_secs(5);
/// How long pluto gets to re-establish the connection after `--crash`.
const CRASH_WAIT: Duration = Duration::from_secs(5);
/// Poll interval while waiting for it.
const POLL: Duration = Duration::from_millis(500);

/// What one command did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit status; `None` if it was killed.
    pub code: Option<i32>,
    /// It was killed at the time limit.
    pub timed_out: bool,
    /// Standard output, then standard error, trimmed.
    pub text: String,
}

/// Runs external commands (tests substitute a fake).
pub trait Runner: Send {
    /// Runs `prog args...`, killing it after `limit`.
    fn run(&mut self, prog: &Path, args: &[String], limit: Duration) -> io::Result<Output>;
    /// Waits (tests do not).
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d)
    }
}

/// The real runner.
pub struct Command;

impl Runner for Command {
    fn run(&mut self, prog: &Path, args: &[String], limit: Duration) -> io::Result<Output> {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that the time limit kills what the
            // `ipsec` script started too (and nothing keeps the pipes open).
            .process_group(0)
            .spawn()?;
        let drain = |r: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_end(&mut v);
                }
                v
            })
        };
        let out = drain(child.stdout.take().map(|s| Box::new(s) as _));
        let err = drain(child.stderr.take().map(|s| Box::new(s) as _));
        let deadline = Instant::now() + limit;
        let mut timed_out = false;
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break s;
            }
            if Instant::now() >= deadline {
                timed_out = true;
                // SAFETY: kill() has no memory effects; the group id is the
                // child's pid (process_group(0)), which is not reaped yet.
                unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
                break child.wait()?;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut text = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
        text.push_str(&String::from_utf8_lossy(&err.join().unwrap_or_default()));
        Ok(Output {
            code: status.code(),
            timed_out,
            text: text.trim().to_string(),
        })
    }
}

/// pluto's control socket is not there (`whack: Pluto is not running`),
/// or not accepting yet (`is Pluto running?  connect() ... failed`).
pub fn not_running(o: &Output) -> bool {
    o.code == Some(WHACK_NOT_RUNNING)
        || o.text.contains("Pluto is not running")
        || o.text.contains("is Pluto running?")
}

/// pluto answers but is still starting: `024 need --listen before
/// --initiate` (exit 24), until it has opened its IKE sockets.
pub fn not_listening(text: &str) -> bool {
    text.contains("need --listen before")
}

/// pluto does not know the connection (`021 no connection named "X"`).
pub fn no_connection(text: &str) -> bool {
    text.contains("no connection named")
}

/// The established SAs of one connection in `whack --showstates`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct States {
    /// Serial numbers of established IKE SAs.
    pub ike: Vec<u64>,
    /// Serial numbers of established Child SAs.
    pub child: Vec<u64>,
}

impl States {
    /// pluto holds some established SA of the connection.
    pub fn any(&self) -> bool {
        !self.ike.is_empty() || !self.child.is_empty()
    }
    /// Both an IKE SA and a Child SA are established.
    pub fn up(&self) -> bool {
        !self.ike.is_empty() && !self.child.is_empty()
    }
    fn newest(&self) -> u64 {
        self.ike
            .iter()
            .chain(&self.child)
            .copied()
            .max()
            .unwrap_or(0)
    }
}

/// Whether `line` is about connection `conn` (`"conn"` or an instance
/// `"conn"[1]`).
fn about(line: &str, conn: &str) -> bool {
    let q = format!("\"{conn}\"");
    line.match_indices(&q).any(|(i, _)| {
        matches!(
            line[i + q.len()..].chars().next(),
            Some(':' | '[' | ' ' | ',') | None
        )
    })
}

/// The serial number in `#N:` at the start of a status line.
fn serial(line: &str) -> Option<u64> {
    let rest = &line[line.find('#')? + 1..];
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

/// Parses `whack --showstates` for connection `conn` (IKEv2 states).
pub fn parse_states(text: &str, conn: &str) -> States {
    let mut s = States::default();
    for line in text.lines().filter(|l| about(l, conn)) {
        let Some(n) = serial(line) else { continue };
        if line.contains("STATE_V2_ESTABLISHED_IKE_SA") {
            s.ike.push(n);
        } else if line.contains("STATE_V2_ESTABLISHED_CHILD_SA") {
            s.child.push(n);
        }
    }
    s
}

/// What a synchronous `whack --initiate` printed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Initiated {
    /// The line saying the Child SA was established.
    pub child: Option<String>,
    /// `sending INITIAL_CONTACT` was printed.
    pub initial_contact: bool,
}

/// Parses the output of `whack --name CONN --initiate`.
pub fn parse_initiate(text: &str) -> Initiated {
    Initiated {
        child: text
            .lines()
            .find(|l| l.contains("established Child SA"))
            .map(|l| l.trim().to_string()),
        initial_contact: text.contains("sending INITIAL_CONTACT"),
    }
}

/// `initial-contact:yes|no` of connection `conn` in `whack --status`;
/// `None` if the connection is not listed.
pub fn parse_initial_contact(status: &str, conn: &str) -> Option<bool> {
    let mut listed = false;
    for line in status.lines().filter(|l| about(l, conn)) {
        listed = true;
        if let Some(i) = line.find("initial-contact:") {
            return Some(line[i + "initial-contact:".len()..].starts_with("yes"));
        }
    }
    listed.then_some(false)
}

/// The last `n` lines of `text`, on one line.
fn tail(text: &str, n: usize) -> String {
    let v: Vec<&str> = text.lines().collect();
    v[v.len().saturating_sub(n)..].join(" | ")
}

/// libreswan through `ipsec whack`.
pub struct Libreswan<R: Runner> {
    ipsec: PathBuf,
    initiate: bool,
    limit: Duration,
    runner: R,
    /// Peers whose connection passed the start-up check (it is repeated at
    /// recovery time for the others, once pluto answers).
    checked: HashSet<String>,
}

impl<R: Runner> Libreswan<R> {
    /// The back end for `cfg`, running commands with `runner`.
    pub fn new(cfg: &Config, runner: R) -> Self {
        Libreswan {
            ipsec: cfg.libreswan.ipsec.clone(),
            initiate: cfg.libreswan.initiate,
            limit: Duration::from_secs(cfg.libreswan.timeout_secs),
            runner,
            checked: HashSet::new(),
        }
    }

    /// Gives the runner back.
    pub fn into_runner(self) -> R {
        self.runner
    }

    /// `ipsec whack ARGS` within `limit`; pluto not running is a transient
    /// failure, a command that cannot run at all a final one.
    fn whack(&mut self, args: &[&str], limit: Duration) -> Result<Output, Failure> {
        let args: Vec<String> = std::iter::once("whack")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        let shown = format!("{} {}", self.ipsec.display(), args.join(" "));
        tracing::debug!("running {shown}");
        let o = self
            .runner
            .run(&self.ipsec, &args, limit)
            .map_err(|e| Failure::fatal(format!("{shown}: {e}")))?;
        if not_running(&o) {
            return Err(Failure::transient(format!(
                "pluto is not running ({shown}: {})",
                tail(&o.text, 1)
            )));
        }
        Ok(o)
    }

    fn states(&mut self, conn: &str) -> Result<States, Failure> {
        let o = self.whack(&["--showstates"], QUERY_LIMIT.min(self.limit))?;
        Ok(parse_states(&o.text, conn))
    }

    /// The start-up check for the peers not checked yet: is the connection
    /// loaded, and does it send INITIAL_CONTACT?  `Err` if pluto did not
    /// answer (checked again at the next recovery).
    fn check_peers(&mut self, peers: &[Peer]) -> Result<(), Failure> {
        if peers.iter().all(|p| self.checked.contains(&p.connection)) {
            return Ok(());
        }
        let o = self.whack(&["--status"], QUERY_LIMIT.min(self.limit))?;
        for p in peers {
            if self.checked.contains(&p.connection) {
                continue;
            }
            match parse_initial_contact(&o.text, &p.connection) {
                None => {
                    // Checked again at recovery time: it may be added later.
                    tracing::warn!(
                        "peer {}: connection '{}' is not loaded in pluto (yet)",
                        p.address,
                        p.connection
                    );
                    continue;
                }
                Some(true) => tracing::info!(
                    "peer {}: connection '{}' loaded in pluto, initial-contact=yes",
                    p.address,
                    p.connection
                ),
                Some(false) => tracing::warn!(
                    "peer {}: libreswan connection '{}' lacks initial-contact=yes: pluto sends no \
                     INITIAL_CONTACT, so after a reboot the peer keeps its stale SAs and recovery \
                     cannot end the black hole; add initial-contact=yes to the conn",
                    p.address,
                    p.connection
                ),
            }
            self.checked.insert(p.connection.clone());
        }
        Ok(())
    }

    fn run(&mut self, peer: &Peer) -> Result<String, Failure> {
        let conn = peer.connection.as_str();
        self.check_peers(std::slice::from_ref(peer))?;
        let before = self.states(conn)?;
        let mut how = String::new();
        let mut up = States::default();
        if before.any() {
            // pluto still runs and holds SAs with the peer, yet the peer's
            // ESP hit an SPI the kernel does not have: the kernel SAs were
            // lost under pluto.  --crash makes pluto delete its IKE SA (the
            // Delete makes the peer drop its stale CHILD_SA) and
            // re-establish the connection itself.
            tracing::info!(
                "peer {}: pluto holds IKE SA {:?} / Child SA {:?} of '{conn}'; whack --crash",
                peer.address,
                before.ike,
                before.child
            );
            let addr = peer.address.to_string();
            let o = self.whack(&["--crash", &addr], QUERY_LIMIT.min(self.limit))?;
            tracing::info!("peer {}: whack --crash: {}", peer.address, tail(&o.text, 2));
            let polls = CRASH_WAIT.min(self.limit).as_millis() / POLL.as_millis();
            for _ in 0..polls {
                self.runner.sleep(POLL);
                let now = self.states(conn)?;
                if now.up() && now.newest() > before.newest() {
                    up = now;
                    how =
                        format!("re-established by pluto after whack --crash {addr} (Delete sent)");
                    break;
                }
            }
        }
        if !up.up() {
            if !self.initiate {
                return Err(Failure::fatal(format!(
                    "pluto has no new SA with the peer for '{conn}' and [libreswan] initiate = false"
                )));
            }
            let o = self.whack(&["--name", conn, "--initiate"], self.limit)?;
            let shown = format!("whack --name {conn} --initiate");
            if o.timed_out {
                return Err(Failure::fatal(format!(
                    "{shown} did not finish within {} s (pluto goes on trying in the background): {}",
                    self.limit.as_secs(),
                    tail(&o.text, 2)
                )));
            }
            if not_listening(&o.text) {
                return Err(Failure::transient(format!(
                    "pluto is not listening yet ({})",
                    tail(&o.text, 1)
                )));
            }
            if no_connection(&o.text) {
                return Err(Failure::transient(format!(
                    "connection '{conn}' is not loaded in pluto ({})",
                    tail(&o.text, 1)
                )));
            }
            let i = parse_initiate(&o.text);
            let Some(line) = i.child else {
                return Err(Failure::fatal(format!(
                    "{shown} established no Child SA (exit {}): {}",
                    o.code.map_or("killed".into(), |c| c.to_string()),
                    tail(&o.text, 3)
                )));
            };
            if !i.initial_contact {
                tracing::warn!(
                    "peer {}: pluto sent no INITIAL_CONTACT for '{conn}': the peer may keep its \
                     stale SAs (initial-contact=yes missing, or pluto still had an IKE SA)",
                    peer.address
                );
            }
            how = format!(
                "{shown}: {line}; INITIAL_CONTACT {}",
                if i.initial_contact {
                    "sent"
                } else {
                    "not sent"
                }
            );
            up = self.states(conn)?;
            if !up.up() {
                return Err(Failure::fatal(format!(
                    "{shown} reported an established Child SA but whack --showstates lists no \
                     established IKE SA and Child SA of '{conn}'"
                )));
            }
        }
        Ok(format!(
            "IKE SA #{} Child SA #{} of '{conn}' established; {how}",
            up.ike.iter().max().unwrap_or(&0),
            up.child.iter().max().unwrap_or(&0)
        ))
    }
}

impl<R: Runner> Backend for Libreswan<R> {
    fn check(&mut self, peers: &[Peer]) {
        if let Err(e) = self.check_peers(peers) {
            tracing::warn!(
                "cannot check the peers' connections now: {e}; will check at recovery time"
            );
        }
    }

    fn recover(&mut self, peer: &Peer) -> Result<String, Failure> {
        self.run(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    // Real output of libreswan 4.10's whack (Debian 12), from the issue and
    // from runs against pluto in the lab.
    const NOT_RUNNING: &str = "whack: Pluto is not running (no \"/run/pluto/pluto.ctl\")";
    const REFUSED: &str = "whack: is Pluto running?  connect() for \"/run/pluto/pluto.ctl\" failed (111 Connection refused)";
    const NOT_LISTENING: &str = "024 need --listen before --initiate";
    const NO_CONN: &str =
        "000 initiating all conns with alias='peer'\n021 no connection named \"peer\"";
    const CRASH: &str =
        "000 restarting peer 192.0.2.1\n000 peer 192.0.2.1 for connection peer crashed; replacing";
    const STATES_NONE: &str = "";
    const STATES_IKE1: &str = "000 #1: \"peer\":500 STATE_V2_ESTABLISHED_IKE_SA (established IKE SA); EXPIRE in 28750s; newest; idle;";
    const STATES_UP2: &str = "000 #1: \"peer\":500 STATE_V2_ESTABLISHED_IKE_SA (established IKE SA); EXPIRE in 28750s; newest; idle;\n\
        000 #2: \"peer\":500 STATE_V2_ESTABLISHED_CHILD_SA (established Child SA); EXPIRE in 28530s; newest; eroute owner; IKE SA #1; idle;\n\
        000 #2: \"peer\" esp.c7654321@192.0.2.1 esp.c1234567@192.0.2.2 tun.0@192.0.2.1 tun.0@192.0.2.2 Traffic: ESPin=0B ESPout=0B ESPmax=2^63B";
    const STATES_UP4: &str = "000 #3: \"peer\":500 STATE_V2_ESTABLISHED_IKE_SA (established IKE SA); EXPIRE in 28790s; newest; idle;\n\
        000 #4: \"peer\":500 STATE_V2_ESTABLISHED_CHILD_SA (established Child SA); EXPIRE in 28770s; newest; eroute owner; IKE SA #3; idle;";
    const INITIATE_OK: &str = "002 \"peer\" #1: initiating IKEv2 connection\n\
        1v2 \"peer\" #1: sent IKE_SA_INIT request to 192.0.2.1:500\n\
        002 \"peer\" #1: sending INITIAL_CONTACT\n\
        1v2 \"peer\" #1: sent IKE_AUTH request {cipher=AES_CBC_128 integ=HMAC_SHA2_256_128 prf=HMAC_SHA2_256 group=MODP2048}\n\
        003 \"peer\" #1: initiator established IKE SA; authenticated peer using authby=secret and ID_IPV4_ADDR '192.0.2.1'\n\
        004 \"peer\" #2: initiator established Child SA using #1; IPsec tunnel [203.0.113.0-203.0.113.255:0-65535 0] -> [198.51.100.0-198.51.100.255:0-65535 0] {ESP=>0xc7654321 <0xc1234567 xfrm=AES_GCM_16_128-NONE DPD=passive}";
    const INITIATE_NO_IC: &str = "002 \"peer\" #1: initiating IKEv2 connection\n\
        1v2 \"peer\" #1: sent IKE_AUTH request {cipher=AES_CBC_128 integ=HMAC_SHA2_256_128 prf=HMAC_SHA2_256 group=MODP2048}\n\
        004 \"peer\" #2: initiator established Child SA using #1; IPsec tunnel [203.0.113.0-203.0.113.255:0-65535 0] -> [198.51.100.0-198.51.100.255:0-65535 0] {ESP=>0xc7654321 <0xc1234567 xfrm=AES_GCM_16_128-NONE DPD=passive}";
    const INITIATE_STUCK: &str = "002 \"peer\" #1: initiating IKEv2 connection\n\
        1v2 \"peer\" #1: sent IKE_SA_INIT request to 192.0.2.1:500";
    const INITIATE_CHILD_FAILED: &str = "002 \"peer\" #5: initiating Child SA using IKE SA #4\n\
        189 \"peer\" #5: sent CREATE_CHILD_SA request for new IPsec SA\n\
        003 \"peer\" #5: CREATE_CHILD_SA failed with error notification NO_PROPOSAL_CHOSEN\n\
        200 \"peer\" #5: state transition 'initiate create Child SA (CREATE_CHILD_SA)' failed";
    const STATUS_IC_YES: &str = "000 \"peer\": 203.0.113.0/24===192.0.2.2...192.0.2.1===198.51.100.0/24; unrouted; eroute owner: #0\n\
        000 \"peer\":   retransmit-interval: 500ms; retransmit-timeout: 60s; iketcp:no; iketcp-port:4500;\n\
        000 \"peer\":   initial-contact:yes; cisco-unity:no; fake-strongswan:no; send-vendorid:no; send-no-esp-tfc:no;";
    const STATUS_IC_NO: &str = "000 \"peer\": 203.0.113.0/24===192.0.2.2...192.0.2.1===198.51.100.0/24; unrouted; eroute owner: #0\n\
        000 \"peer\":   initial-contact:no; cisco-unity:no; fake-strongswan:no; send-vendorid:no; send-no-esp-tfc:no;";

    /// Answers whack commands from a script keyed by the first argument
    /// after `whack`; records every call.
    #[derive(Default)]
    struct Fake {
        answers: Vec<(&'static str, VecDeque<Output>)>,
        calls: Vec<Vec<String>>,
        limits: Vec<Duration>,
        slept: Duration,
    }
    fn out(code: i32, text: &str) -> Output {
        Output {
            code: Some(code),
            timed_out: false,
            text: text.into(),
        }
    }
    impl Fake {
        fn on(mut self, arg: &'static str, outs: &[Output]) -> Self {
            self.answers.push((arg, outs.iter().cloned().collect()));
            self
        }
        fn cmds(&self) -> Vec<String> {
            self.calls.iter().map(|c| c[1..].join(" ")).collect()
        }
    }
    impl Runner for Fake {
        fn run(&mut self, prog: &Path, args: &[String], limit: Duration) -> io::Result<Output> {
            assert_eq!(prog, Path::new("/usr/sbin/ipsec"));
            assert_eq!(args[0], "whack");
            self.calls.push(args.to_vec());
            self.limits.push(limit);
            let q = &mut self
                .answers
                .iter_mut()
                .find(|(a, _)| *a == args[1])
                .unwrap_or_else(|| panic!("unexpected {args:?}"))
                .1;
            // The last answer repeats.
            Ok(if q.len() > 1 {
                q.pop_front().unwrap()
            } else {
                q[0].clone()
            })
        }
        fn sleep(&mut self, d: Duration) {
            self.slept += d;
        }
    }

    fn cfg(extra: &str) -> Config {
        Config::from_toml(
            &format!("[recovery]\nbackend = \"libreswan\"\n[libreswan]\nipsec = \"/usr/sbin/ipsec\"\n{extra}"),
            Path::new("t"),
        )
        .unwrap()
    }
    fn peer() -> Peer {
        Peer {
            address: "192.0.2.1".parse().unwrap(),
            connection: "peer".into(),
            child: None,
            limit: None,
        }
    }
    fn status_ok(f: Fake) -> Fake {
        f.on("--status", &[out(0, STATUS_IC_YES)])
    }

    #[test]
    fn parsers() {
        assert!(not_running(&out(33, NOT_RUNNING)));
        assert!(not_running(&out(1, NOT_RUNNING)));
        assert!(not_running(&out(33, REFUSED)));
        assert!(!not_running(&out(0, NO_CONN)));
        assert!(not_listening(NOT_LISTENING));
        assert!(!not_listening(NO_CONN));
        assert!(no_connection(NO_CONN));
        assert_eq!(parse_states(STATES_NONE, "peer"), States::default());
        assert_eq!(
            parse_states(STATES_UP2, "peer"),
            States {
                ike: vec![1],
                child: vec![2]
            }
        );
        assert_eq!(parse_states(STATES_UP2, "pee"), States::default());
        assert!(!parse_states(STATES_IKE1, "peer").up());
        let i = parse_initiate(INITIATE_OK);
        assert!(i.initial_contact);
        assert!(i.child.unwrap().contains("established Child SA using #1"));
        assert!(!parse_initiate(INITIATE_NO_IC).initial_contact);
        assert_eq!(parse_initiate(INITIATE_CHILD_FAILED).child, None);
        assert_eq!(parse_initial_contact(STATUS_IC_YES, "peer"), Some(true));
        assert_eq!(parse_initial_contact(STATUS_IC_NO, "peer"), Some(false));
        assert_eq!(parse_initial_contact(STATUS_IC_YES, "other"), None);
    }

    #[test]
    fn after_a_reboot_initiates_and_confirms() {
        let f = status_ok(Fake::default())
            .on("--showstates", &[out(0, STATES_NONE), out(0, STATES_UP2)])
            .on("--name", &[out(0, INITIATE_OK)]);
        let mut b = Libreswan::new(&cfg("timeout_secs = 7\n"), f);
        let r = b.recover(&peer()).unwrap();
        assert!(
            r.starts_with(
                "IKE SA #1 Child SA #2 of 'peer' established; whack --name peer --initiate: 004"
            ),
            "{r}"
        );
        assert!(r.ends_with("INITIAL_CONTACT sent"), "{r}");
        let f = b.into_runner();
        // No --crash: after a reboot it only answers "restarting peer".
        assert_eq!(
            f.cmds(),
            [
                "--status",
                "--showstates",
                "--name peer --initiate",
                "--showstates"
            ]
        );
        assert_eq!(f.limits[2], Duration::from_secs(7), "initiate is bounded");
        assert!(f.limits[1] <= QUERY_LIMIT);
    }

    #[test]
    fn pluto_not_running_is_transient() {
        // Exit 33 from the start-up check, the status query and --initiate.
        let f = Fake::default()
            .on("--status", &[out(33, NOT_RUNNING)])
            .on("--showstates", &[out(33, NOT_RUNNING)]);
        let mut b = Libreswan::new(&cfg(""), f);
        b.check(&[peer()]);
        let e = b.recover(&peer()).unwrap_err();
        assert!(e.retry, "{e:?}");
        assert!(e.msg.starts_with("pluto is not running"), "{e}");
        assert!(
            e.msg
                .contains("Pluto is not running (no \"/run/pluto/pluto.ctl\")"),
            "{e}"
        );
        // ...and then pluto is up: the same back end recovers.
        let f = b.into_runner();
        let f = Fake {
            calls: f.calls,
            ..status_ok(Fake::default())
                .on("--showstates", &[out(0, STATES_NONE), out(0, STATES_UP2)])
                .on("--name", &[out(0, INITIATE_OK)])
        };
        let mut b = Libreswan::new(&cfg(""), f);
        assert!(b.recover(&peer()).is_ok());
    }

    #[test]
    fn pluto_starting_is_transient() {
        // The socket refuses connections, then pluto runs its self-tests.
        let f = status_ok(Fake::default()).on("--showstates", &[out(33, REFUSED)]);
        let mut b = Libreswan::new(&cfg(""), f);
        let e = b.recover(&peer()).unwrap_err();
        assert!(e.retry && e.msg.contains("connect()"), "{e:?}");
        let f = status_ok(Fake::default())
            .on("--showstates", &[out(0, STATES_NONE)])
            .on("--name", &[out(24, NOT_LISTENING)]);
        let mut b = Libreswan::new(&cfg(""), f);
        let e = b.recover(&peer()).unwrap_err();
        assert!(e.retry, "{e:?}");
        assert_eq!(
            e.msg,
            "pluto is not listening yet (024 need --listen before --initiate)"
        );
    }

    #[test]
    fn connection_not_loaded_is_transient_even_with_exit_0() {
        for code in [0, 21] {
            let f = Fake::default()
                .on("--status", &[out(0, "000 Connection list:\n000  ")])
                .on("--showstates", &[out(0, STATES_NONE)])
                .on("--name", &[out(code, NO_CONN)]);
            let mut b = Libreswan::new(&cfg(""), f);
            let e = b.recover(&peer()).unwrap_err();
            assert!(e.retry, "{e:?}");
            assert_eq!(
                e.msg,
                "connection 'peer' is not loaded in pluto (021 no connection named \"peer\")"
            );
        }
    }

    #[test]
    fn initiate_time_out_is_a_failure() {
        let f = status_ok(Fake::default())
            .on("--showstates", &[out(0, STATES_NONE)])
            .on(
                "--name",
                &[Output {
                    code: None,
                    timed_out: true,
                    text: INITIATE_STUCK.into(),
                }],
            );
        let mut b = Libreswan::new(&cfg("timeout_secs = 3\n"), f);
        let e = b.recover(&peer()).unwrap_err();
        assert!(!e.retry);
        assert!(
            e.msg
                .starts_with("whack --name peer --initiate did not finish within 3 s"),
            "{e}"
        );
        assert!(
            e.msg.contains("sent IKE_SA_INIT request to 192.0.2.1:500"),
            "{e}"
        );
    }

    #[test]
    fn child_sa_failure_and_unconfirmed_success_are_failures() {
        let f = status_ok(Fake::default())
            .on("--showstates", &[out(0, STATES_NONE)])
            .on("--name", &[out(0, INITIATE_CHILD_FAILED)]);
        let mut b = Libreswan::new(&cfg(""), f);
        let e = b.recover(&peer()).unwrap_err();
        assert!(!e.retry);
        assert!(e.msg.contains("established no Child SA (exit 0)"), "{e}");
        assert!(e.msg.contains("NO_PROPOSAL_CHOSEN"), "{e}");
        // The initiate says established, the status query does not agree.
        let f = status_ok(Fake::default())
            .on("--showstates", &[out(0, STATES_NONE)])
            .on("--name", &[out(0, INITIATE_OK)]);
        let mut b = Libreswan::new(&cfg(""), f);
        let e = b.recover(&peer()).unwrap_err();
        assert!(
            e.msg.contains("lists no established IKE SA and Child SA"),
            "{e}"
        );
    }

    #[test]
    fn crash_only_while_pluto_holds_sas_and_no_second_initiate() {
        // Pluto still has #1/#2: --crash, then its own #3/#4 come up.
        let f = status_ok(Fake::default())
            .on(
                "--showstates",
                &[out(0, STATES_UP2), out(0, STATES_IKE1), out(0, STATES_UP4)],
            )
            .on("--crash", &[out(0, CRASH)]);
        let mut b = Libreswan::new(&cfg(""), f);
        let r = b.recover(&peer()).unwrap();
        assert!(r.starts_with("IKE SA #3 Child SA #4"), "{r}");
        assert!(r.contains("after whack --crash 192.0.2.1"), "{r}");
        let f = b.into_runner();
        assert_eq!(
            f.cmds(),
            [
                "--status",
                "--showstates",
                "--crash 192.0.2.1",
                "--showstates",
                "--showstates"
            ]
        );
        assert_eq!(f.slept, POLL * 2);
        // pluto did not come back by itself within CRASH_WAIT: initiate.
        let f = status_ok(Fake::default())
            .on(
                "--showstates",
                &[
                    out(0, STATES_UP2),
                    out(0, STATES_NONE),
                    out(0, STATES_NONE),
                    out(0, STATES_NONE),
                    out(0, STATES_NONE),
                    out(0, STATES_NONE),
                    out(0, STATES_NONE),
                    out(0, STATES_NONE),
                    out(0, STATES_NONE),
                    out(0, STATES_NONE),
                    out(0, STATES_NONE),
                    out(0, STATES_UP4),
                ],
            )
            .on("--crash", &[out(0, CRASH)])
            .on("--name", &[out(0, INITIATE_OK)]);
        let mut b = Libreswan::new(&cfg(""), f);
        let r = b.recover(&peer()).unwrap();
        assert!(r.contains("--initiate"), "{r}");
        let f = b.into_runner();
        assert_eq!(f.slept, CRASH_WAIT);
        assert_eq!(
            f.cmds().iter().filter(|c| c.starts_with("--crash")).count(),
            1
        );
    }

    #[test]
    fn start_up_check_warns_once_about_initial_contact() {
        let f = Fake::default().on("--status", &[out(0, STATUS_IC_NO)]);
        let mut b = Libreswan::new(&cfg(""), f);
        b.check(&[peer()]);
        b.check(&[peer()]);
        assert_eq!(b.into_runner().calls.len(), 1, "checked once");
        // Without initial-contact the initiate still works but says so.
        let f = Fake::default()
            .on("--status", &[out(0, STATUS_IC_NO)])
            .on("--showstates", &[out(0, STATES_NONE), out(0, STATES_UP2)])
            .on("--name", &[out(0, INITIATE_NO_IC)]);
        let mut b = Libreswan::new(&cfg(""), f);
        let r = b.recover(&peer()).unwrap();
        assert!(r.ends_with("INITIAL_CONTACT not sent"), "{r}");
    }

    #[test]
    fn initiate_false_never_initiates() {
        let f = status_ok(Fake::default()).on("--showstates", &[out(0, STATES_NONE)]);
        let mut b = Libreswan::new(&cfg("initiate = false\n"), f);
        let e = b.recover(&peer()).unwrap_err();
        assert!(!e.retry && e.msg.contains("initiate = false"), "{e}");
    }

    #[test]
    fn real_runner_enforces_the_time_limit() {
        let t = Instant::now();
        let o = Command
            .run(
                Path::new("/bin/sh"),
                &["-c".into(), "echo started; sleep 30".into()],
                Duration::from_millis(300),
            )
            .unwrap();
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(o.timed_out);
        assert_eq!(o.code, None);
        assert_eq!(o.text, "started");
        let o = Command
            .run(
                Path::new("/bin/sh"),
                &["-c".into(), "echo out; echo err >&2; exit 33".into()],
                Duration::from_secs(5),
            )
            .unwrap();
        assert_eq!(
            (o.code, o.timed_out, o.text.as_str()),
            (Some(33), false, "out\nerr")
        );
    }
}

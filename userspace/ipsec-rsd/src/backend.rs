// SPDX-License-Identifier: GPL-2.0

//! What "recover towards a peer" means for each IKE daemon.
//!
//! strongSwan (measured): charon answers a received INVALID_SPI notify like
//! a liveness check and deletes nothing.  What makes a strongSwan peer drop
//! its stale SAs is INITIAL_CONTACT in a fresh IKE_AUTH (its uniqueness
//! check replaces the old IKE SA and its CHILD_SAs) or Delete payloads.  So:
//!
//! 1. `list-sas` for the peer's connection: the IKE SAs to the peer;
//! 2. if there are some (the peer sends on a CHILD_SA we no longer have),
//!    `terminate` them: the Delete makes the peer drop the stale CHILD_SA;
//! 3. `initiate` the configured child (or every child of the connection,
//!    from `list-conns`): the new IKE_AUTH carries INITIAL_CONTACT, as we
//!    have no IKE SA with the peer any more;
//! 4. follow `ike-updown`/`child-updown` during the initiation and confirm
//!    with `list-sas` that the CHILD_SA is installed (watched for up to 3 s;
//!    an `initiate` that failed or timed out still counts as done when the
//!    CHILD_SA it asked for is installed, and says so in the log).
//!
//! Each recovery opens its own VICI connection, so a charon restart between
//! two recoveries needs no reconnection logic.
//!
//! libreswan: see [`crate::libreswan`].

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

pub use crate::libreswan::{Command, Libreswan, Runner};

use crate::config::{Config, Peer};
use crate::vici::{self, Client, Message};

/// Why a recovery failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong.
    pub msg: String,
    /// Whether trying again soon may help (the IKE daemon is not running
    /// yet, or has not loaded its configuration yet, as after a reboot).
    pub retry: bool,
}

impl Failure {
    /// A failure retrying will not cure.
    pub fn fatal(msg: impl Into<String>) -> Self {
        Failure {
            msg: msg.into(),
            retry: false,
        }
    }
    /// A failure worth retrying.
    pub fn transient(msg: impl Into<String>) -> Self {
        Failure {
            msg: msg.into(),
            retry: true,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

/// A recovery back end.
pub trait Backend: Send {
    /// Logs whether the configured peers match what the IKE daemon has
    /// loaded (startup check; never fatal: the IKE daemon may start later).
    fn check(&mut self, peers: &[Peer]);
    /// Recovers towards `peer`: `Ok(summary)` once new SAs are up (or the
    /// action was handed over), `Err(reason)` otherwise.
    fn recover(&mut self, peer: &Peer) -> Result<String, Failure>;
}

/// Opens VICI connections.
pub trait Connector: Send {
    /// The stream type.
    type Stream: Read + Write;
    /// A new connection to charon.
    fn connect(&mut self) -> Result<Client<Self::Stream>, vici::Error>;
}

/// The real connector: charon's unix socket.
pub struct UnixConnector {
    /// Socket path.
    pub path: PathBuf,
    /// Read/write time limit.
    pub timeout: Duration,
}

impl Connector for UnixConnector {
    type Stream = UnixStream;
    fn connect(&mut self) -> Result<Client<UnixStream>, vici::Error> {
        Client::connect(&self.path, self.timeout)
    }
}

/// strongSwan over VICI.
pub struct StrongSwan<C: Connector> {
    conn: C,
    /// Time limit charon gets for `initiate`/`terminate`, milliseconds.
    timeout_ms: u64,
    /// Connections whose INITIAL_CONTACT conditions were checked.
    checked: HashSet<String>,
}

/// One IKE SA from `list-sas`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IkeSa {
    /// Connection name.
    pub name: String,
    /// `uniqueid`.
    pub id: String,
    /// `remote-host`.
    pub remote: Option<IpAddr>,
    /// `state`.
    pub state: String,
    /// CHILD_SAs: name, state, inbound SPI, outbound SPI.
    pub children: Vec<(String, String, String, String)>,
}

/// The IKE SAs in `list-sa` event messages.
pub fn parse_sas(events: &[Message]) -> Vec<IkeSa> {
    let mut out = Vec::new();
    for ev in events {
        for (name, sa) in ev.sections() {
            let children = sa
                .get_section("child-sas")
                .map(|c| {
                    c.sections()
                        .map(|(_, ch)| {
                            let g = |k| ch.get_str(k).unwrap_or_default();
                            (g("name"), g("state"), g("spi-in"), g("spi-out"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(IkeSa {
                name: name.to_string(),
                id: sa.get_str("uniqueid").unwrap_or_default(),
                remote: sa.get_str("remote-host").and_then(|h| h.parse().ok()),
                state: sa.get_str("state").unwrap_or_default(),
                children,
            });
        }
    }
    out
}

/// The children of connection `conn` in `list-conn` event messages; `None`
/// if the connection is not loaded.
pub fn parse_children(events: &[Message], conn: &str) -> Option<Vec<String>> {
    events.iter().find_map(|ev| {
        ev.get_section(conn).map(|c| {
            c.get_section("children")
                .map(|ch| ch.sections().map(|(n, _)| n.to_string()).collect())
                .unwrap_or_default()
        })
    })
}

/// Whether a strongSwan identity matches more than one peer (`%any`, a
/// `*` part, an address range or subnet): charon sends no INITIAL_CONTACT
/// towards such a remote identity.
pub fn wildcard_id(id: &str) -> bool {
    let id = id.trim();
    id.is_empty()
        || id.eq_ignore_ascii_case("%any")
        || id.eq_ignore_ascii_case("%any6")
        || id.contains('*')
        || (id.parse::<IpAddr>().is_err()
            && id.contains(['/', '-'])
            && id
                .split(['/', '-'])
                .next()
                .is_some_and(|a| a.parse::<IpAddr>().is_ok()))
}

/// Why charon would send no INITIAL_CONTACT for connection `conn` (from
/// `list-conn` events): `unique = never`, or a wildcard remote identity
/// (`remote-N` auth rounds; none at all means `%any`).
pub fn initial_contact_problems(events: &[Message], conn: &str) -> Vec<String> {
    let Some(c) = events.iter().find_map(|e| e.get_section(conn)) else {
        return Vec::new();
    };
    let mut v = Vec::new();
    if c.get_str("unique").as_deref() == Some("UNIQUE_NEVER") {
        v.push("unique = never".to_string());
    }
    let mut remotes = 0;
    for (name, r) in c.sections().filter(|(n, _)| n.starts_with("remote")) {
        remotes += 1;
        let id = r.get_str("id").unwrap_or_else(|| "%any".into());
        if wildcard_id(&id) {
            v.push(format!("a wildcard remote identity '{id}' ({name})"));
        }
    }
    if remotes == 0 {
        v.push("no remote identity (%any)".to_string());
    }
    v
}

impl StrongSwan<UnixConnector> {
    /// The back end for `cfg`.
    pub fn from_config(cfg: &Config) -> Self {
        let t = Duration::from_secs(cfg.vici.timeout_secs);
        StrongSwan {
            conn: UnixConnector {
                path: cfg.vici.socket.clone(),
                // The socket waits a little longer than charon's own limit.
                timeout: t + Duration::from_secs(5),
            },
            timeout_ms: t.as_millis() as u64,
            checked: HashSet::new(),
        }
    }
}

impl<C: Connector> StrongSwan<C> {
    /// A back end over `conn` (tests pass a fake).
    pub fn new(conn: C, timeout_ms: u64) -> Self {
        StrongSwan {
            conn,
            timeout_ms,
            checked: HashSet::new(),
        }
    }

    fn list_sas(c: &mut Client<C::Stream>, conn: &str) -> Result<Vec<IkeSa>, vici::Error> {
        let (evs, _) = c.streamed(
            "list-sas",
            "list-sa",
            Message::new().kv("noblock", "yes").kv("ike", conn),
        )?;
        Ok(parse_sas(&evs))
    }

    fn conn_events(c: &mut Client<C::Stream>, conn: &str) -> Result<Vec<Message>, Failure> {
        let (evs, _) = c
            .streamed("list-conns", "list-conn", Message::new().kv("ike", conn))
            .map_err(|e| Failure::fatal(e.to_string()))?;
        Ok(evs)
    }

    fn children(evs: &[Message], peer: &Peer) -> Result<Vec<String>, Failure> {
        let children = parse_children(evs, &peer.connection).ok_or_else(|| {
            Failure::transient(format!(
                "connection '{}' is not loaded in charon",
                peer.connection
            ))
        })?;
        match &peer.child {
            Some(ch) if children.contains(ch) => Ok(vec![ch.clone()]),
            Some(ch) => Err(Failure::fatal(format!(
                "connection '{}' has no child '{ch}' in charon",
                peer.connection
            ))),
            None if children.is_empty() => Err(Failure::fatal(format!(
                "connection '{}' has no children in charon",
                peer.connection
            ))),
            None => Ok(children),
        }
    }

    /// The start-up check of one loaded connection, logged once: warns
    /// when charon would send no INITIAL_CONTACT.
    fn check_initial_contact(&mut self, evs: &[Message], peer: &Peer) {
        if self.checked.contains(&peer.connection)
            || parse_children(evs, &peer.connection).is_none()
        {
            return;
        }
        self.checked.insert(peer.connection.clone());
        let problems = initial_contact_problems(evs, &peer.connection);
        if !problems.is_empty() {
            tracing::warn!(
                "peer {}: strongSwan connection '{}' has {}: charon sends no INITIAL_CONTACT, so \
                 after a reboot the peer keeps its stale SAs and recovery cannot end the black \
                 hole; set unique = no (or replace/keep) and the peer's exact identity",
                peer.address,
                peer.connection,
                problems.join(" and ")
            );
        }
    }

    fn run(&mut self, peer: &Peer) -> Result<String, Failure> {
        let mut c = self
            .conn
            .connect()
            .map_err(|e| Failure::transient(e.to_string()))?;
        let conn = peer.connection.as_str();
        let evs = Self::conn_events(&mut c, conn)?;
        let children = Self::children(&evs, peer)?;
        self.check_initial_contact(&evs, peer);
        let stale: Vec<IkeSa> = Self::list_sas(&mut c, conn)
            .map_err(|e| Failure::fatal(e.to_string()))?
            .into_iter()
            .filter(|s| s.remote == Some(peer.address))
            .collect();
        for sa in &stale {
            tracing::info!(
                "peer {}: terminating IKE SA {}[{}] ({}) so the peer deletes its stale CHILD_SAs",
                peer.address,
                sa.name,
                sa.id,
                sa.state
            );
            let r = c
                .request(
                    "terminate",
                    Message::new()
                        .kv("ike-id", &sa.id)
                        .kv("timeout", self.timeout_ms.min(5000).to_string())
                        .kv("force", "yes"),
                )
                .map_err(|e| Failure::fatal(e.to_string()))?;
            if let Err(e) = r.check_success() {
                // Already gone, or the peer did not answer the Delete in
                // time (force removed it locally): initiate anyway.
                tracing::warn!("peer {}: terminate IKE SA {}: {e}", peer.address, sa.id);
            }
        }
        if stale.is_empty() {
            tracing::info!(
                "peer {}: no IKE SA; initiating '{conn}' (INITIAL_CONTACT makes the peer drop its stale SAs)",
                peer.address
            );
        }
        // An initiate that fails may still leave the CHILD_SA installed:
        // charon's reply can time out while the exchange completes, or the
        // peer may have set the SA up itself meanwhile.  What counts is
        // what list-sas shows afterwards.
        let mut failed: Vec<(String, String)> = Vec::new();
        let mut broken = false;
        for child in &children {
            let r = c.request_following(
                "initiate",
                Message::new()
                    .kv("child", child)
                    .kv("ike", conn)
                    .kv("timeout", self.timeout_ms.to_string())
                    .kv("init-limits", "no"),
                &["ike-updown", "child-updown"],
                |name, m| {
                    let up = m.get_str("up").unwrap_or_else(|| "no".into());
                    for (sa, body) in m.sections() {
                        tracing::info!(
                            "peer {}: {name}: {sa} {} (state {})",
                            peer.address,
                            if up == "yes" { "up" } else { "down" },
                            body.get_str("state").unwrap_or_default()
                        );
                    }
                },
            );
            let e = match r {
                Ok(m) => m.check_success().err().map(|e| e.to_string()),
                Err(e) => {
                    // The stream is out of step (a timeout mid-reply):
                    // nothing more can be asked on it.
                    broken = true;
                    Some(e.to_string())
                }
            };
            if let Some(e) = e {
                tracing::warn!("peer {}: initiate {conn}/{child}: {e}", peer.address);
                failed.push((child.clone(), format!("initiate {conn}/{child}: {e}")));
            }
            if broken {
                break;
            }
        }
        if broken {
            c = self
                .conn
                .connect()
                .map_err(|e| Failure::fatal(format!("{}; {e}", failed[0].1)))?;
        }
        let deadline = Instant::now() + CONFIRM_FOR;
        let mut looked = false;
        let up = loop {
            let now = match Self::list_sas(&mut c, conn) {
                Ok(now) => now,
                // A look that fails after an earlier one, or after a failed
                // initiate, ends the wait with what is known.
                Err(_) if looked || !failed.is_empty() => break None,
                Err(e) => return Err(Failure::fatal(e.to_string())),
            };
            looked = true;
            let up = installed(&now, peer.address, &children);
            // Done: a CHILD_SA installed, and each one whose initiate
            // failed among them.
            let complete =
                !up.is_empty() && failed.iter().all(|(ch, _)| up.iter().any(|u| &u.0 == ch));
            if complete || Instant::now() >= deadline {
                break complete.then_some(up);
            }
            thread::sleep(CONFIRM_STEP);
        };
        match (up, failed.first()) {
            (Some(up), first) => {
                if let Some(f) = first {
                    tracing::info!(
                        "peer {}: {}, but the CHILD_SA is installed",
                        peer.address,
                        f.1
                    );
                }
                Ok(up.into_iter().map(|u| u.1).collect::<Vec<_>>().join("; "))
            }
            (None, Some(f)) => Err(Failure::fatal(f.1.clone())),
            (None, None) => Err(Failure::fatal(format!(
                "initiate '{conn}' succeeded but list-sas shows no installed CHILD_SA"
            ))),
        }
    }
}

/// How long list-sas is watched for a CHILD_SA after `initiate` (charon
/// reports and installs from its own threads, so list-sas may lag its
/// reply).
const CONFIRM_FOR: Duration = Duration::from_secs(3);

/// How often list-sas is asked again while a CHILD_SA is not yet installed.
const CONFIRM_STEP: Duration = Duration::from_millis(250);

/// The installed CHILD_SAs named in `children` of established IKE SAs with
/// `peer`: (child name, summary).
fn installed(sas: &[IkeSa], peer: IpAddr, children: &[String]) -> Vec<(String, String)> {
    sas.iter()
        .filter(|s| s.remote == Some(peer) && s.state == "ESTABLISHED")
        .flat_map(|s| {
            s.children
                .iter()
                .filter(|ch| ch.1 == "INSTALLED" && children.contains(&ch.0))
                .map(move |ch| {
                    (
                        ch.0.clone(),
                        format!(
                            "IKE SA {}[{}] CHILD_SA {} spi-in 0x{} spi-out 0x{}",
                            s.name, s.id, ch.0, ch.2, ch.3
                        ),
                    )
                })
        })
        .collect()
}

impl<C: Connector> Backend for StrongSwan<C> {
    fn check(&mut self, peers: &[Peer]) {
        let mut c = match self.conn.connect() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    "cannot check the peers' connections now: {e}; will check at recovery time"
                );
                return;
            }
        };
        for p in peers {
            let r = Self::conn_events(&mut c, &p.connection).and_then(|evs| {
                self.check_initial_contact(&evs, p);
                Self::children(&evs, p)
            });
            match r {
                Ok(ch) => tracing::info!(
                    "peer {}: connection '{}' loaded in charon, children {:?}",
                    p.address,
                    p.connection,
                    ch
                ),
                Err(e) => tracing::warn!("peer {}: {e}", p.address),
            }
        }
    }

    fn recover(&mut self, peer: &Peer) -> Result<String, Failure> {
        self.run(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vici::{packet, Packet};
    use std::io;

    struct Script {
        input: io::Cursor<Vec<u8>>,
        output: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    }
    impl Read for Script {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            self.input.read(b)
        }
    }
    impl Write for Script {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.output.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Hands out one scripted connection per input, in order.
    struct Fake {
        input: Vec<Vec<u8>>,
        output: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    }
    impl Connector for Fake {
        type Stream = Script;
        fn connect(&mut self) -> Result<Client<Script>, vici::Error> {
            let input = (!self.input.is_empty())
                .then(|| self.input.remove(0))
                .ok_or_else(|| {
                    vici::Error::Io(io::Error::from(io::ErrorKind::ConnectionRefused))
                })?;
            Ok(Client::new(Script {
                input: io::Cursor::new(input),
                output: self.output.clone(),
            }))
        }
    }

    fn pkt(ty: u8, name: Option<&str>, msg: Message) -> Vec<u8> {
        Packet {
            ty,
            name: name.map(Into::into),
            msg,
        }
        .encode()
        .unwrap()
    }
    fn confirm() -> Vec<u8> {
        pkt(packet::EVENT_CONFIRM, None, Message::new())
    }
    fn resp(m: Message) -> Vec<u8> {
        pkt(packet::CMD_RESPONSE, None, m)
    }
    fn ev(name: &str, m: Message) -> Vec<u8> {
        pkt(packet::EVENT, Some(name), m)
    }
    fn ok() -> Message {
        Message::new().kv("success", "yes")
    }
    fn conn_event() -> Vec<u8> {
        ev(
            "list-conn",
            Message::new().section(
                "a-b",
                Message::new()
                    .kv("remote_addrs", "192.0.2.1")
                    .section("children", Message::new().section("net", Message::new())),
            ),
        )
    }
    fn sa_event(id: &str, state: &str, child_state: &str) -> Vec<u8> {
        ev(
            "list-sa",
            Message::new().section(
                "a-b",
                Message::new()
                    .kv("uniqueid", id)
                    .kv("remote-host", "192.0.2.1")
                    .kv("state", state)
                    .section(
                        "child-sas",
                        Message::new().section(
                            "net-5",
                            Message::new()
                                .kv("name", "net")
                                .kv("state", child_state)
                                .kv("spi-in", "c1234567")
                                .kv("spi-out", "c7654321"),
                        ),
                    ),
            ),
        )
    }
    fn peer() -> Peer {
        Peer {
            address: "192.0.2.1".parse().unwrap(),
            connection: "a-b".into(),
            child: None,
            limit: None,
        }
    }

    /// One packet sent: type, name, message.
    type Req = (u8, String, Message);

    /// The packets sent, in order.
    fn requests(out: &[u8]) -> Vec<Req> {
        let mut v = Vec::new();
        let mut i = 0;
        while i < out.len() {
            let n = u32::from_be_bytes(out[i..i + 4].try_into().unwrap()) as usize;
            let p = Packet::decode(&out[i + 4..i + 4 + n]).unwrap();
            v.push((p.ty, p.name.unwrap_or_default(), p.msg));
            i += 4 + n;
        }
        v
    }

    fn run(input: Vec<u8>) -> (Result<String, Failure>, Vec<Req>) {
        run_on(vec![input])
    }

    /// A recovery over one scripted connection per input.
    fn run_on(inputs: Vec<Vec<u8>>) -> (Result<String, Failure>, Vec<Req>) {
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut b = StrongSwan::new(
            Fake {
                input: inputs,
                output: output.clone(),
            },
            10_000,
        );
        let r = b.recover(&peer());
        let out = output.lock().unwrap().clone();
        (r, requests(&out))
    }

    fn cmds(reqs: &[Req]) -> Vec<String> {
        reqs.iter()
            .filter(|r| r.0 == packet::CMD_REQUEST)
            .map(|r| r.1.clone())
            .collect()
    }

    #[test]
    fn no_ike_sa_means_initiate() {
        let input = [
            confirm(),
            conn_event(),
            resp(Message::new()),
            confirm(), // list-conns
            confirm(),
            resp(Message::new()),
            confirm(), // list-sas: none
            confirm(),
            confirm(), // register updown
            ev("child-updown", Message::new().kv("up", "yes")),
            resp(ok()),
            confirm(),
            confirm(), // initiate
            confirm(),
            sa_event("2", "ESTABLISHED", "INSTALLED"),
            resp(Message::new()),
            confirm(),
        ]
        .concat();
        let (r, reqs) = run(input);
        let summary = r.unwrap();
        assert!(
            summary.contains("CHILD_SA net spi-in 0xc1234567"),
            "{summary}"
        );
        assert_eq!(
            cmds(&reqs),
            ["list-conns", "list-sas", "initiate", "list-sas"]
        );
        let init = &reqs.iter().find(|r| r.1 == "initiate").unwrap().2;
        assert_eq!(init.get_str("child").as_deref(), Some("net"));
        assert_eq!(init.get_str("ike").as_deref(), Some("a-b"));
        assert_eq!(init.get_str("timeout").as_deref(), Some("10000"));
    }

    #[test]
    fn existing_ike_sa_is_terminated_then_initiated() {
        let input = [
            confirm(),
            conn_event(),
            resp(Message::new()),
            confirm(),
            confirm(),
            sa_event("1", "ESTABLISHED", "INSTALLED"),
            resp(Message::new()),
            confirm(),
            resp(ok()), // terminate
            confirm(),
            confirm(),
            resp(ok()),
            confirm(),
            confirm(), // initiate
            confirm(),
            sa_event("3", "ESTABLISHED", "INSTALLED"),
            resp(Message::new()),
            confirm(),
        ]
        .concat();
        let (r, reqs) = run(input);
        assert!(r.unwrap().contains("IKE SA a-b[3]"));
        assert_eq!(
            cmds(&reqs),
            [
                "list-conns",
                "list-sas",
                "terminate",
                "initiate",
                "list-sas"
            ]
        );
        let term = &reqs.iter().find(|r| r.1 == "terminate").unwrap().2;
        assert_eq!(term.get_str("ike-id").as_deref(), Some("1"));
        assert_eq!(term.get_str("force").as_deref(), Some("yes"));
    }

    #[test]
    fn failures_are_errors() {
        // Connection not loaded.
        let input = [confirm(), resp(Message::new()), confirm()].concat();
        let (r, _) = run(input);
        assert_eq!(
            r.unwrap_err(),
            Failure::transient("connection 'a-b' is not loaded in charon")
        );
        // initiate fails.
        let input = [
            up_to_initiate(),
            resp(
                Message::new()
                    .kv("success", "no")
                    .kv("errmsg", "establishing CHILD_SA 'net' failed"),
            ),
            confirm(),
            confirm(),
        ]
        .concat();
        let (r, _) = run(input);
        assert_eq!(
            r.unwrap_err(),
            Failure::fatal("initiate a-b/net: vici: establishing CHILD_SA 'net' failed")
        );
        // charon not running.
        let mut b = StrongSwan::new(
            Fake {
                input: Vec::new(),
                output: Default::default(),
            },
            1000,
        );
        let e = b.recover(&peer()).unwrap_err();
        assert!(e.retry && e.msg.contains("refused"), "{e:?}");
    }

    #[test]
    fn initiate_without_an_installed_child_sa_is_not_done() {
        // charon says the initiate succeeded, but list-sas afterwards shows
        // the CHILD_SA not installed: a failure, not "done".
        let input = [
            up_to_initiate(),
            resp(ok()),
            confirm(),
            confirm(),
            confirm(),
            sa_event("2", "ESTABLISHED", "INSTALLING"),
            resp(Message::new()),
            confirm(),
        ]
        .concat();
        let (r, reqs) = run(input);
        assert_eq!(
            r.unwrap_err(),
            Failure::fatal("initiate 'a-b' succeeded but list-sas shows no installed CHILD_SA")
        );
        assert_eq!(
            cmds(&reqs),
            ["list-conns", "list-sas", "initiate", "list-sas"]
        );
    }

    /// list-conns (one child, `net`) and an empty list-sas: the start of
    /// every scripted recovery that initiates.
    fn up_to_initiate() -> Vec<u8> {
        [
            confirm(),
            conn_event(),
            resp(Message::new()),
            confirm(),
            confirm(),
            resp(Message::new()),
            confirm(),
            confirm(),
            confirm(), // registered ike-updown, child-updown
        ]
        .concat()
    }

    /// list-sas with `sa`.
    fn sas(sa: Vec<u8>) -> Vec<u8> {
        [confirm(), sa, resp(Message::new()), confirm()].concat()
    }

    #[test]
    fn a_child_sa_still_installing_is_watched_until_installed() {
        let input = [
            up_to_initiate(),
            resp(ok()),
            confirm(),
            confirm(),
            sas(sa_event("2", "ESTABLISHED", "INSTALLING")),
            sas(sa_event("2", "ESTABLISHED", "INSTALLED")),
        ]
        .concat();
        let (r, reqs) = run(input);
        assert!(r.unwrap().contains("CHILD_SA net spi-in 0xc1234567"));
        assert_eq!(
            cmds(&reqs),
            ["list-conns", "list-sas", "initiate", "list-sas", "list-sas"]
        );
    }

    #[test]
    fn a_failed_initiate_whose_child_sa_is_installed_is_done() {
        // charon's reply says the initiate failed (its time limit ran out),
        // yet the CHILD_SA is up: the black hole is healed.
        let input = [
            up_to_initiate(),
            resp(
                Message::new()
                    .kv("success", "no")
                    .kv("errmsg", "initiating CHILD_SA 'net' timed out"),
            ),
            confirm(),
            confirm(),
            sas(sa_event("2", "ESTABLISHED", "INSTALLED")),
        ]
        .concat();
        let (r, _) = run(input);
        assert!(r.unwrap().contains("IKE SA a-b[2] CHILD_SA net"));
        // ... and a failure when it is not.
        let input = [
            up_to_initiate(),
            resp(Message::new().kv("success", "no").kv("errmsg", "timed out")),
            confirm(),
            confirm(),
            sas(sa_event("2", "CONNECTING", "CREATED")),
        ]
        .concat();
        let (r, _) = run(input);
        assert_eq!(
            r.unwrap_err(),
            Failure::fatal("initiate a-b/net: vici: timed out")
        );
    }

    #[test]
    fn a_connection_cut_during_initiate_is_replaced_to_confirm() {
        // The first connection ends before charon's reply (a read timeout):
        // list-sas goes over a new one.
        let (r, reqs) = run_on(vec![
            up_to_initiate(),
            sas(sa_event("2", "ESTABLISHED", "INSTALLED")),
        ]);
        assert!(r.unwrap().contains("CHILD_SA net"));
        assert_eq!(
            cmds(&reqs),
            ["list-conns", "list-sas", "initiate", "list-sas"]
        );
        // Without a new connection the initiate's error is the reason.
        let (r, _) = run_on(vec![up_to_initiate()]);
        let e = r.unwrap_err();
        assert!(e.msg.starts_with("initiate a-b/net: ") && !e.retry, "{e:?}");
    }

    #[test]
    fn initial_contact_conditions() {
        for id in [
            "%any",
            "%ANY6",
            "*@example.com",
            "CN=*, O=x",
            "",
            "192.0.2.0/24",
            "192.0.2.1-192.0.2.9",
        ] {
            assert!(wildcard_id(id), "{id}");
        }
        for id in [
            "192.0.2.1",
            "2001:db8::1",
            "router-a.example.com",
            "CN=router-a, O=x",
            "@a-b",
        ] {
            assert!(!wildcard_id(id), "{id}");
        }
        let conn = |unique: &str, remote: Option<&str>| {
            let mut c = Message::new().kv("unique", unique);
            if let Some(id) = remote {
                c = c.section(
                    "remote-1",
                    Message::new().kv("id", id).kv("class", "pre-shared key"),
                );
            }
            vec![Message::new().section("a-b", c)]
        };
        assert!(initial_contact_problems(&conn("UNIQUE_NO", Some("192.0.2.1")), "a-b").is_empty());
        assert!(
            initial_contact_problems(&conn("UNIQUE_REPLACE", Some("192.0.2.1")), "a-b").is_empty()
        );
        assert_eq!(
            initial_contact_problems(&conn("UNIQUE_NEVER", Some("%any")), "a-b"),
            [
                "unique = never",
                "a wildcard remote identity '%any' (remote-1)"
            ]
        );
        assert_eq!(
            initial_contact_problems(&conn("UNIQUE_NO", None), "a-b"),
            ["no remote identity (%any)"]
        );
        assert!(initial_contact_problems(&conn("UNIQUE_NEVER", None), "other").is_empty());
    }
}

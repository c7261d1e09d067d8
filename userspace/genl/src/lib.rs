// SPDX-License-Identifier: GPL-2.0

//! A small generic-netlink client for the ipsec_rs tools.
//!
//! * [`Transport`]: sends and receives raw netlink datagrams; [`Socket`] is the
//!   real one, tests substitute a fake kernel.
//! * [`Client`]: resolves a family and its multicast groups with
//!   `CTRL_CMD_GETFAMILY`, sends requests, collects replies and dumps, turns
//!   `NLMSG_ERROR` into [`Error::Kernel`] with the kernel's extended-ACK
//!   message verbatim, joins multicast groups and reads events, counting
//!   `ENOBUFS` overruns instead of failing.
//!
//! Attribute payloads of the ipsec_rs family are opaque bytes here: the tools
//! encode and decode them with the core crate's `nl` module.

#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

pub mod fake;
pub mod family;
pub mod socket;
pub mod wire;

use std::io;
use std::time::{Duration, Instant};

pub use socket::Socket;
use wire::*;

/// Sends and receives whole netlink datagrams.
pub trait Transport {
    /// Sends one datagram to the kernel.
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;
    /// Receives one datagram, waiting at most `timeout` (`None`: forever).
    /// `Ok(None)` on timeout.  An `ENOBUFS` error means multicast messages
    /// were lost because the socket buffer overflowed.
    fn recv(&mut self, timeout: Option<Duration>) -> io::Result<Option<Vec<u8>>>;
    /// Joins multicast group `group`.
    fn add_membership(&mut self, group: u32) -> io::Result<()>;
}

/// What can go wrong talking to a generic-netlink family.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The controller does not know the family: the module is not loaded.
    #[error("generic netlink family '{0}' not found (is the module loaded?)")]
    FamilyNotFound(String),
    /// The family has no multicast group of that name.
    #[error("family '{family}' has no multicast group '{group}'")]
    GroupNotFound {
        /// Family name.
        family: String,
        /// Group name.
        group: String,
    },
    /// The kernel answered with an error.
    #[error("{}", kernel_error_text(*.errno, .msg.as_deref()))]
    Kernel {
        /// Positive errno.
        errno: i32,
        /// The extended-ACK message, verbatim.
        msg: Option<String>,
        /// Offset of the offending attribute in the request.
        offset: Option<u32>,
    },
    /// A socket operation failed.
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
    /// The kernel sent something we cannot parse.
    #[error("malformed netlink reply: {0}")]
    Protocol(String),
    /// No complete answer within the time limit.
    #[error("timed out waiting for the kernel's reply")]
    Timeout,
}

fn kernel_error_text(errno: i32, msg: Option<&str>) -> String {
    let os = io::Error::from_raw_os_error(errno);
    match msg {
        Some(m) => format!("{m} ({os})"),
        None => os.to_string(),
    }
}

impl Error {
    /// The errno behind this error, if the kernel or a syscall reported one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io(e) => e.raw_os_error(),
            _ => None,
        }
    }

    /// Whether this is `EPERM`/`EACCES` (missing `CAP_NET_ADMIN`).
    pub fn is_permission(&self) -> bool {
        matches!(self.errno(), Some(libc::EPERM) | Some(libc::EACCES))
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;

/// One generic-netlink message from the family: command and attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenlMsg {
    /// `genlmsghdr.cmd`.
    pub cmd: u8,
    /// `genlmsghdr.version`.
    pub version: u8,
    /// The attribute payload after `genlmsghdr`.
    pub attrs: Vec<u8>,
}

impl GenlMsg {
    fn parse(payload: &[u8]) -> Result<Self> {
        let h = payload
            .get(..GENL_HDRLEN)
            .ok_or_else(|| Error::Protocol("message shorter than genlmsghdr".into()))?;
        Ok(GenlMsg {
            cmd: h[0],
            version: h[1],
            attrs: payload[GENL_HDRLEN..].to_vec(),
        })
    }
}

/// What [`Client::next_event`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A multicast message of the family.
    Message(GenlMsg),
    /// The socket buffer overflowed (`ENOBUFS`): some events were lost.
    Overrun,
    /// Nothing arrived within the timeout.
    Timeout,
}

/// A family resolved through the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyInfo {
    /// Family name.
    pub name: String,
    /// Dynamic family id (the `nlmsg_type` of its messages).
    pub id: u16,
    /// Family version the kernel announces.
    pub version: u32,
    /// Multicast groups: name and id.
    pub groups: Vec<(String, u32)>,
}

/// How long to wait for each datagram of an answer before giving up.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// A generic-netlink client bound to one family.
pub struct Client<T: Transport> {
    io: T,
    seq: u32,
    family: FamilyInfo,
    overruns: u64,
}

impl<T: Transport> Client<T> {
    /// Resolves `family` over `io`.
    ///
    /// Fails with [`Error::FamilyNotFound`] when the controller answers
    /// `ENOENT` (the module is not loaded).
    pub fn connect(mut io: T, family: &str) -> Result<Self> {
        let mut payload = Vec::new();
        put_str(&mut payload, CTRL_ATTR_FAMILY_NAME, family);
        let seq = 1;
        let replies = match transact(
            &mut io,
            GENL_ID_CTRL,
            seq,
            CTRL_CMD_GETFAMILY,
            CTRL_VERSION,
            &payload,
            false,
        ) {
            Err(Error::Kernel {
                errno: libc::ENOENT,
                ..
            }) => return Err(Error::FamilyNotFound(family.to_string())),
            r => r?,
        };
        let reply = replies
            .into_iter()
            .next()
            .ok_or_else(|| Error::Protocol("no reply to CTRL_CMD_GETFAMILY".into()))?;
        let info = parse_family(&reply.attrs)?;
        if info.name != family {
            return Err(Error::Protocol(format!(
                "asked for family '{family}', controller answered '{}'",
                info.name
            )));
        }
        tracing::debug!(family, id = info.id, version = info.version, groups = ?info.groups,
            "resolved generic netlink family");
        Ok(Client {
            io,
            seq,
            family: info,
            overruns: 0,
        })
    }

    /// The resolved family.
    pub fn family(&self) -> &FamilyInfo {
        &self.family
    }

    /// How many `ENOBUFS` overruns [`Client::next_event`] has seen.
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    /// Sends command `cmd` with attribute `payload` and returns the reply
    /// messages (none for a command that only acknowledges).  With `dump`,
    /// asks for a dump and returns every message of it.
    pub fn request(
        &mut self,
        cmd: u8,
        version: u8,
        payload: &[u8],
        dump: bool,
    ) -> Result<Vec<GenlMsg>> {
        self.seq = self.seq.wrapping_add(1).max(1);
        transact(
            &mut self.io,
            self.family.id,
            self.seq,
            cmd,
            version,
            payload,
            dump,
        )
    }

    /// Joins the multicast group `group` of the family.
    pub fn join(&mut self, group: &str) -> Result<()> {
        let id = self
            .family
            .groups
            .iter()
            .find(|(n, _)| n == group)
            .map(|(_, id)| *id)
            .ok_or_else(|| Error::GroupNotFound {
                family: self.family.name.clone(),
                group: group.to_string(),
            })?;
        self.io.add_membership(id)?;
        tracing::debug!(group, id, "joined multicast group");
        Ok(())
    }

    /// Waits at most `timeout` for the next multicast message of the family.
    /// Messages of other families or with a sequence number (stray replies)
    /// are skipped.
    pub fn next_event(&mut self, timeout: Option<Duration>) -> Result<Event> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(l) => Some(l),
                    None => return Ok(Event::Timeout),
                },
            };
            let dgram = match self.io.recv(left) {
                Ok(Some(d)) => d,
                Ok(None) => return Ok(Event::Timeout),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.overruns += 1;
                    return Ok(Event::Overrun);
                }
                Err(e) => return Err(e.into()),
            };
            let mut msgs = Messages::new(&dgram);
            for (h, p) in msgs.by_ref() {
                if h.ty == self.family.id {
                    return Ok(Event::Message(GenlMsg::parse(p)?));
                }
                if h.ty == NLMSG_OVERRUN {
                    self.overruns += 1;
                    return Ok(Event::Overrun);
                }
                tracing::trace!(ty = h.ty, seq = h.seq, "skipping non-event message");
            }
            if msgs.malformed() {
                return Err(Error::Protocol("truncated netlink message".into()));
            }
        }
    }

    /// Gives the transport back (tests inspect what was sent).
    pub fn into_transport(self) -> T {
        self.io
    }
}

/// Sends one request and collects its answer up to the final ACK or
/// `NLMSG_DONE`.
fn transact<T: Transport>(
    io: &mut T,
    family: u16,
    seq: u32,
    cmd: u8,
    version: u8,
    payload: &[u8],
    dump: bool,
) -> Result<Vec<GenlMsg>> {
    let mut flags = NLM_F_REQUEST | NLM_F_ACK;
    if dump {
        flags |= NLM_F_DUMP;
    }
    io.send(&build_genl(family, flags, seq, cmd, version, payload))?;
    let mut out = Vec::new();
    loop {
        let dgram = match io.recv(Some(REPLY_TIMEOUT)) {
            Ok(Some(d)) => d,
            Ok(None) => return Err(Error::Timeout),
            // Multicast overflow on a socket that also joined a group: the
            // unicast answer is still queued, keep reading.
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => continue,
            Err(e) => return Err(e.into()),
        };
        let mut msgs = Messages::new(&dgram);
        for (h, p) in msgs.by_ref() {
            if h.seq != seq {
                tracing::trace!(ty = h.ty, seq = h.seq, "skipping unrelated message");
                continue;
            }
            match h.ty {
                NLMSG_ERROR => {
                    let ack = parse_error(&h, p)
                        .ok_or_else(|| Error::Protocol("short NLMSG_ERROR".into()))?;
                    return finish(ack, out);
                }
                NLMSG_DONE => return finish(parse_done(&h, p), out),
                NLMSG_NOOP => {}
                NLMSG_OVERRUN => return Err(Error::Protocol("NLMSG_OVERRUN in reply".into())),
                ty if ty == family => {
                    if h.flags & NLM_F_DUMP_INTR != 0 {
                        tracing::warn!(
                            "dump interrupted by a concurrent change; data may be inconsistent"
                        );
                    }
                    out.push(GenlMsg::parse(p)?);
                    // A reply to a non-dump request without NLM_F_MULTI is
                    // followed by the ACK we asked for; keep reading.
                }
                ty => tracing::debug!(ty, "unexpected message type in reply"),
            }
        }
        if msgs.malformed() {
            return Err(Error::Protocol("truncated netlink message".into()));
        }
    }
}

fn finish(ack: Ack, out: Vec<GenlMsg>) -> Result<Vec<GenlMsg>> {
    if ack.error < 0 {
        return Err(Error::Kernel {
            errno: -ack.error,
            msg: ack.msg,
            offset: ack.offset,
        });
    }
    if let Some(m) = ack.msg {
        // A success ACK can carry a warning (NL_SET_ERR_MSG on success).
        tracing::warn!("kernel: {m}");
    }
    Ok(out)
}

fn parse_family(attrs: &[u8]) -> Result<FamilyInfo> {
    let mut info = FamilyInfo {
        name: String::new(),
        id: 0,
        version: 0,
        groups: Vec::new(),
    };
    for a in wire::attrs(attrs) {
        match a.kind {
            CTRL_ATTR_FAMILY_ID => info.id = a.u16().unwrap_or(0),
            CTRL_ATTR_FAMILY_NAME => info.name = get_str(a.payload),
            CTRL_ATTR_VERSION => info.version = a.u32().unwrap_or(0),
            CTRL_ATTR_MCAST_GROUPS => {
                for grp in wire::attrs(a.payload) {
                    let (mut name, mut id) = (None, None);
                    for g in wire::attrs(grp.payload) {
                        match g.kind {
                            CTRL_ATTR_MCAST_GRP_NAME => name = Some(get_str(g.payload)),
                            CTRL_ATTR_MCAST_GRP_ID => id = g.u32().ok(),
                            _ => {}
                        }
                    }
                    if let (Some(n), Some(i)) = (name, id) {
                        info.groups.push((n, i));
                    }
                }
            }
            _ => {}
        }
    }
    if info.id == 0 {
        return Err(Error::Protocol(
            "CTRL_CMD_GETFAMILY reply without a family id".into(),
        ));
    }
    Ok(info)
}

// SPDX-License-Identifier: GPL-2.0

//! A fake kernel for tests: answers `CTRL_CMD_GETFAMILY`, hands family
//! requests to a closure, acknowledges or fails them the way the kernel does
//! (capped `NLMSG_ERROR` with extended-ACK attributes), and plays back queued
//! multicast datagrams or `ENOBUFS` errors.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use crate::wire::*;
use crate::{FamilyInfo, GenlMsg, Transport};

/// What the fake kernel answers to one family request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Reply messages (command, attribute payload), then the ACK.
    Replies(Vec<(u8, Vec<u8>)>),
    /// An error with an optional extended-ACK message.
    Error {
        /// Positive errno.
        errno: i32,
        /// Extended-ACK message.
        msg: Option<String>,
    },
}

/// A request the fake kernel received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The request's header.
    pub hdr: NlMsgHdr,
    /// Its command and attributes.
    pub msg: GenlMsg,
    /// The whole datagram as sent.
    pub bytes: Vec<u8>,
}

type Handler = Box<dyn FnMut(&Request) -> Answer>;

/// The fake kernel.
pub struct FakeKernel {
    family: Option<FamilyInfo>,
    handler: Handler,
    queue: VecDeque<io::Result<Vec<u8>>>,
    events: VecDeque<io::Result<Vec<u8>>>,
    /// Every request of the family, in order.
    pub requests: Vec<Request>,
    /// Groups joined.
    pub joined: Vec<u32>,
    /// Errno to fail `add_membership` with.
    pub membership_errno: Option<i32>,
}

impl FakeKernel {
    /// A kernel without the family (module not loaded).
    pub fn without_family() -> Self {
        FakeKernel {
            family: None,
            handler: Box::new(|_| Answer::Replies(Vec::new())),
            queue: VecDeque::new(),
            events: VecDeque::new(),
            requests: Vec::new(),
            joined: Vec::new(),
            membership_errno: None,
        }
    }

    /// A kernel with family `name` (id `id`, version `version`, multicast
    /// `groups`) whose requests `handler` answers.
    pub fn with_family(
        name: &str,
        id: u16,
        version: u32,
        groups: &[(&str, u32)],
        handler: impl FnMut(&Request) -> Answer + 'static,
    ) -> Self {
        let mut k = Self::without_family();
        k.family = Some(FamilyInfo {
            name: name.to_string(),
            id,
            version,
            groups: groups.iter().map(|(n, i)| (n.to_string(), *i)).collect(),
        });
        k.handler = Box::new(handler);
        k
    }

    /// Queues a multicast event: one datagram holding a family message.
    pub fn push_event(&mut self, cmd: u8, version: u8, attrs: &[u8]) {
        let id = self.family.as_ref().map(|f| f.id).unwrap_or(0);
        self.events
            .push_back(Ok(build_genl(id, 0, 0, cmd, version, attrs)));
    }

    /// Queues an `ENOBUFS` receive error (lost multicast messages).
    pub fn push_overrun(&mut self) {
        self.events
            .push_back(Err(io::Error::from_raw_os_error(libc::ENOBUFS)));
    }

    fn error_msg(seq: u32, req: &NlMsgHdr, errno: i32, msg: Option<&str>) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&(-errno).to_ne_bytes());
        NlMsgHdr { seq, ..*req }.write(&mut p);
        let mut flags = NLM_F_CAPPED;
        if let Some(m) = msg {
            put_str(&mut p, NLMSGERR_ATTR_MSG, m);
            flags |= NLM_F_ACK_TLVS;
        }
        let mut out = Vec::new();
        NlMsgHdr {
            len: (NLMSG_HDRLEN + p.len()) as u32,
            ty: NLMSG_ERROR,
            flags,
            seq,
            pid: 0,
        }
        .write(&mut out);
        out.extend_from_slice(&p);
        out
    }

    fn done_msg(seq: u32) -> Vec<u8> {
        let mut out = Vec::new();
        NlMsgHdr {
            len: 20,
            ty: NLMSG_DONE,
            flags: NLM_F_MULTI,
            seq,
            pid: 0,
        }
        .write(&mut out);
        out.extend_from_slice(&0i32.to_ne_bytes());
        out
    }
}

impl Transport for FakeKernel {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let (hdr, payload) = Messages::new(bytes)
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad request"))?;
        let msg = GenlMsg::parse(payload)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        if hdr.ty == GENL_ID_CTRL {
            assert_eq!(msg.cmd, CTRL_CMD_GETFAMILY);
            let asked = attrs(&msg.attrs)
                .find(|a| a.kind == CTRL_ATTR_FAMILY_NAME)
                .map(|a| get_str(a.payload))
                .unwrap_or_default();
            match &self.family {
                Some(FamilyInfo {
                    name,
                    id,
                    version,
                    groups,
                }) if *name == asked => {
                    let mut a = Vec::new();
                    put_attr(&mut a, CTRL_ATTR_FAMILY_ID, &id.to_ne_bytes());
                    put_str(&mut a, CTRL_ATTR_FAMILY_NAME, name);
                    put_attr(&mut a, CTRL_ATTR_VERSION, &version.to_ne_bytes());
                    let mut grps = Vec::new();
                    for (i, (n, gid)) in groups.iter().enumerate() {
                        let mut g = Vec::new();
                        put_attr(&mut g, CTRL_ATTR_MCAST_GRP_ID, &gid.to_ne_bytes());
                        put_str(&mut g, CTRL_ATTR_MCAST_GRP_NAME, n);
                        put_attr(&mut grps, (i + 1) as u16 | 0x8000, &g);
                    }
                    put_attr(&mut a, CTRL_ATTR_MCAST_GROUPS | 0x8000, &grps);
                    let mut d = build_genl(GENL_ID_CTRL, 0, hdr.seq, 1, CTRL_VERSION, &a);
                    d.extend_from_slice(&Self::error_msg(hdr.seq, &hdr, 0, None));
                    self.queue.push_back(Ok(d));
                }
                _ => self.queue.push_back(Ok(Self::error_msg(
                    hdr.seq,
                    &hdr,
                    libc::ENOENT,
                    Some("Generic Netlink Family not found"),
                ))),
            }
            return Ok(());
        }
        let id = self.family.as_ref().map(|f| f.id);
        assert_eq!(Some(hdr.ty), id, "request to an unknown family");
        let req = Request {
            hdr,
            msg,
            bytes: bytes.to_vec(),
        };
        let answer = (self.handler)(&req);
        let dump = hdr.flags & NLM_F_DUMP == NLM_F_DUMP;
        self.requests.push(req);
        match answer {
            Answer::Replies(replies) => {
                for (cmd, attrs) in replies {
                    let flags = if dump { NLM_F_MULTI } else { 0 };
                    self.queue
                        .push_back(Ok(build_genl(hdr.ty, flags, hdr.seq, cmd, 1, &attrs)));
                }
                let end = if dump {
                    Self::done_msg(hdr.seq)
                } else {
                    Self::error_msg(hdr.seq, &hdr, 0, None)
                };
                self.queue.push_back(Ok(end));
            }
            Answer::Error { errno, msg } => {
                self.queue
                    .push_back(Ok(Self::error_msg(hdr.seq, &hdr, errno, msg.as_deref())));
            }
        }
        Ok(())
    }

    fn recv(&mut self, _timeout: Option<Duration>) -> io::Result<Option<Vec<u8>>> {
        if let Some(d) = self.queue.pop_front() {
            return d.map(Some);
        }
        match self.events.pop_front() {
            Some(d) => d.map(Some),
            None => Ok(None),
        }
    }

    fn add_membership(&mut self, group: u32) -> io::Result<()> {
        if let Some(e) = self.membership_errno {
            return Err(io::Error::from_raw_os_error(e));
        }
        self.joined.push(group);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Client, Error, Event};

    fn kernel() -> FakeKernel {
        FakeKernel::with_family("fam", 0x22, 1, &[("events", 5)], |req| match req.msg.cmd {
            1 => Answer::Replies(vec![(1, vec![8, 0, 1, 0, 42, 0, 0, 0])]),
            2 => Answer::Error {
                errno: libc::EINVAL,
                msg: Some("bad thing".into()),
            },
            3 => Answer::Replies(vec![(3, vec![]), (3, vec![])]),
            _ => Answer::Error {
                errno: libc::EPERM,
                msg: None,
            },
        })
    }

    #[test]
    fn missing_family() {
        let e = Client::connect(FakeKernel::without_family(), "fam")
            .err()
            .unwrap();
        assert!(
            matches!(e, Error::FamilyNotFound(ref n) if n == "fam"),
            "{e:?}"
        );
    }

    #[test]
    fn resolve_and_request() {
        let mut c = Client::connect(kernel(), "fam").unwrap();
        assert_eq!(c.family().id, 0x22);
        assert_eq!(c.family().groups, vec![("events".to_string(), 5)]);
        let r = c.request(1, 1, &[], false).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].attrs, vec![8, 0, 1, 0, 42, 0, 0, 0]);
        let r = c.request(3, 1, &[], true).unwrap();
        assert_eq!(r.len(), 2);
        let k = c.into_transport();
        assert_eq!(
            k.requests[1].hdr.flags,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP
        );
    }

    #[test]
    fn extack_message_verbatim() {
        let mut c = Client::connect(kernel(), "fam").unwrap();
        let e = c.request(2, 1, &[], false).err().unwrap();
        match &e {
            Error::Kernel { errno, msg, .. } => {
                assert_eq!(*errno, libc::EINVAL);
                assert_eq!(msg.as_deref(), Some("bad thing"));
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().starts_with("bad thing ("));
        let e = c.request(9, 1, &[], false).err().unwrap();
        assert!(e.is_permission());
    }

    #[test]
    fn events_and_overruns() {
        let mut k = kernel();
        k.push_event(7, 1, &[1, 2, 3, 4]);
        k.push_overrun();
        k.push_event(7, 1, &[]);
        let mut c = Client::connect(k, "fam").unwrap();
        c.join("events").unwrap();
        assert!(c.join("nope").is_err());
        let e = c.next_event(None).unwrap();
        assert_eq!(
            e,
            Event::Message(GenlMsg {
                cmd: 7,
                version: 1,
                attrs: vec![1, 2, 3, 4]
            })
        );
        assert_eq!(c.next_event(None).unwrap(), Event::Overrun);
        assert!(matches!(c.next_event(None).unwrap(), Event::Message(_)));
        assert_eq!(
            c.next_event(Some(Duration::from_millis(1))).unwrap(),
            Event::Timeout
        );
        assert_eq!(c.overruns(), 1);
        assert_eq!(c.into_transport().joined, vec![5]);
    }
}

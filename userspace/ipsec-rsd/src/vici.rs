// SPDX-License-Identifier: GPL-2.0

//! A small synchronous client for strongSwan's VICI protocol.
//!
//! Wire format (strongSwan `src/libcharon/plugins/vici/README.md`):
//!
//! * a packet is framed by a 32-bit big-endian length (not counting itself);
//! * its first byte is the packet type; command requests, event
//!   (un)registrations and events carry a name (8-bit length + bytes);
//! * the rest is a message: a sequence of elements, each a type byte and,
//!   depending on the type, an 8-bit-length name and a 16-bit big-endian
//!   length value.
//!
//! Only what the daemon needs: requests with a response, and requests that
//! stream events (`list-sas` -> `list-sa`, `list-conns` -> `list-conn`).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Packet types.
pub mod packet {
    /// A named request for a command.
    pub const CMD_REQUEST: u8 = 0;
    /// The unnamed response to a command.
    pub const CMD_RESPONSE: u8 = 1;
    /// The command is not known.
    pub const CMD_UNKNOWN: u8 = 2;
    /// Named registration for an event.
    pub const EVENT_REGISTER: u8 = 3;
    /// Named deregistration of an event.
    pub const EVENT_UNREGISTER: u8 = 4;
    /// (Un)registration succeeded.
    pub const EVENT_CONFIRM: u8 = 5;
    /// The event is not known.
    pub const EVENT_UNKNOWN: u8 = 6;
    /// A named event message.
    pub const EVENT: u8 = 7;
}

/// Message element types.
pub mod element {
    /// Named section start.
    pub const SECTION_START: u8 = 1;
    /// Section end.
    pub const SECTION_END: u8 = 2;
    /// Named key with a 16-bit-length value.
    pub const KEY_VALUE: u8 = 3;
    /// Named list start.
    pub const LIST_START: u8 = 4;
    /// One 16-bit-length list item.
    pub const LIST_ITEM: u8 = 5;
    /// List end.
    pub const LIST_END: u8 = 6;
}

/// Largest packet we accept (charon's own limit is 512 KiB).
pub const MAX_PACKET: usize = 512 * 1024;

/// A value in a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A key's value (bytes, usually text).
    Str(Vec<u8>),
    /// A list of values.
    List(Vec<Vec<u8>>),
    /// A nested section.
    Section(Message),
}

/// A VICI message: an ordered list of named values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message(pub Vec<(String, Value)>);

impl Message {
    /// An empty message.
    pub fn new() -> Self {
        Message(Vec::new())
    }

    /// Appends a key with a text value.
    pub fn kv(mut self, key: &str, val: impl AsRef<[u8]>) -> Self {
        self.0
            .push((key.to_string(), Value::Str(val.as_ref().to_vec())));
        self
    }

    /// Appends a section.
    pub fn section(mut self, key: &str, m: Message) -> Self {
        self.0.push((key.to_string(), Value::Section(m)));
        self
    }

    /// Appends a list.
    pub fn list(mut self, key: &str, items: &[&str]) -> Self {
        self.0.push((
            key.to_string(),
            Value::List(items.iter().map(|s| s.as_bytes().to_vec()).collect()),
        ));
        self
    }

    /// The value of `key` as text, if it is a key/value.
    pub fn get_str(&self, key: &str) -> Option<String> {
        self.0.iter().find_map(|(k, v)| match v {
            Value::Str(s) if k == key => Some(String::from_utf8_lossy(s).into_owned()),
            _ => None,
        })
    }

    /// The section `key`.
    pub fn get_section(&self, key: &str) -> Option<&Message> {
        self.0.iter().find_map(|(k, v)| match v {
            Value::Section(m) if k == key => Some(m),
            _ => None,
        })
    }

    /// All sections, with their names.
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Message)> {
        self.0.iter().filter_map(|(k, v)| match v {
            Value::Section(m) => Some((k.as_str(), m)),
            _ => None,
        })
    }

    /// Encodes the message's elements.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        for (k, v) in &self.0 {
            match v {
                Value::Str(s) => {
                    out.push(element::KEY_VALUE);
                    put_name(out, k)?;
                    put_value(out, s)?;
                }
                Value::List(items) => {
                    out.push(element::LIST_START);
                    put_name(out, k)?;
                    for i in items {
                        out.push(element::LIST_ITEM);
                        put_value(out, i)?;
                    }
                    out.push(element::LIST_END);
                }
                Value::Section(m) => {
                    out.push(element::SECTION_START);
                    put_name(out, k)?;
                    m.encode(out)?;
                    out.push(element::SECTION_END);
                }
            }
        }
        Ok(())
    }

    /// Decodes a whole message.
    pub fn decode(buf: &[u8]) -> Result<Message, Error> {
        let mut r = Reader { buf, pos: 0 };
        let m = decode_elements(&mut r, 0)?;
        if r.pos != buf.len() {
            return Err(Error::Malformed("unbalanced section end".into()));
        }
        Ok(m)
    }

    /// `success = yes` in a command response; otherwise `errmsg`.
    pub fn check_success(&self) -> Result<(), Error> {
        match self.get_str("success").as_deref() {
            Some("yes") => Ok(()),
            _ => Err(Error::Failed(
                self.get_str("errmsg")
                    .unwrap_or_else(|| "command failed".into()),
            )),
        }
    }
}

fn put_name(out: &mut Vec<u8>, name: &str) -> Result<(), Error> {
    let len =
        u8::try_from(name.len()).map_err(|_| Error::Malformed(format!("name too long: {name}")))?;
    out.push(len);
    out.extend_from_slice(name.as_bytes());
    Ok(())
}

fn put_value(out: &mut Vec<u8>, v: &[u8]) -> Result<(), Error> {
    let len = u16::try_from(v.len()).map_err(|_| Error::Malformed("value too long".into()))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(v);
    Ok(())
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Error> {
        let s = self
            .buf
            .get(self.pos..self.pos + n)
            .ok_or_else(|| Error::Malformed("truncated message".into()))?;
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn name(&mut self) -> Result<String, Error> {
        let n = self.u8()? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    fn value(&mut self) -> Result<Vec<u8>, Error> {
        let b = self.take(2)?;
        let n = u16::from_be_bytes([b[0], b[1]]) as usize;
        Ok(self.take(n)?.to_vec())
    }
}

/// Sections nest at most this deep (charon's own messages use < 10).
const MAX_DEPTH: usize = 64;

fn decode_elements(r: &mut Reader, depth: usize) -> Result<Message, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::Malformed("sections nested too deep".into()));
    }
    let mut m = Message::new();
    while r.pos < r.buf.len() {
        match r.u8()? {
            element::KEY_VALUE => {
                let k = r.name()?;
                let v = r.value()?;
                m.0.push((k, Value::Str(v)));
            }
            element::SECTION_START => {
                let k = r.name()?;
                // Below the top level, decode_elements returns only at a
                // SECTION_END (consumed); at EOF it fails.
                let inner = decode_elements(r, depth + 1)?;
                m.0.push((k, Value::Section(inner)));
            }
            element::SECTION_END => {
                if depth == 0 {
                    return Err(Error::Malformed("section end at top level".into()));
                }
                return Ok(m);
            }
            element::LIST_START => {
                let k = r.name()?;
                let mut items = Vec::new();
                loop {
                    match r.u8()? {
                        element::LIST_ITEM => items.push(r.value()?),
                        element::LIST_END => break,
                        t => return Err(Error::Malformed(format!("element {t} in a list"))),
                    }
                }
                m.0.push((k, Value::List(items)));
            }
            t => return Err(Error::Malformed(format!("unknown element type {t}"))),
        }
    }
    if depth > 0 {
        return Err(Error::Malformed("section not closed".into()));
    }
    Ok(m)
}

/// A VICI error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Socket trouble (charon not running, restarted, timed out).
    #[error("vici: {0}")]
    Io(#[from] io::Error),
    /// Bytes that are not VICI.
    #[error("vici: malformed: {0}")]
    Malformed(String),
    /// charon does not know the command or event.
    #[error("vici: unknown command or event '{0}'")]
    Unknown(String),
    /// The command answered `success = no`.
    #[error("vici: {0}")]
    Failed(String),
}

/// One framed packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Packet type.
    pub ty: u8,
    /// Name (requests, event registrations, events).
    pub name: Option<String>,
    /// Message (requests, responses, events).
    pub msg: Message,
}

impl Packet {
    fn named(ty: u8) -> bool {
        matches!(
            ty,
            packet::CMD_REQUEST | packet::EVENT_REGISTER | packet::EVENT_UNREGISTER | packet::EVENT
        )
    }

    /// The framed bytes: length, type, name, message.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut body = vec![self.ty];
        if let Some(n) = &self.name {
            put_name(&mut body, n)?;
        }
        self.msg.encode(&mut body)?;
        if body.len() > MAX_PACKET {
            return Err(Error::Malformed("packet too large".into()));
        }
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decodes a packet body (without the length prefix).
    pub fn decode(body: &[u8]) -> Result<Packet, Error> {
        let (&ty, rest) = body
            .split_first()
            .ok_or_else(|| Error::Malformed("empty packet".into()))?;
        let mut r = Reader { buf: rest, pos: 0 };
        let name = if Self::named(ty) {
            Some(r.name()?)
        } else {
            None
        };
        let msg = Message::decode(&rest[r.pos..])?;
        Ok(Packet { ty, name, msg })
    }
}

/// A VICI connection over any byte stream.
pub struct Client<S: Read + Write> {
    s: S,
}

impl Client<UnixStream> {
    /// Connects to charon's socket; every read and write times out after
    /// `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Self, Error> {
        let s = UnixStream::connect(path)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        Ok(Client { s })
    }
}

impl<S: Read + Write> Client<S> {
    /// Wraps a stream (tests use an in-memory one).
    pub fn new(s: S) -> Self {
        Client { s }
    }

    /// Gives the stream back.
    pub fn into_inner(self) -> S {
        self.s
    }

    fn send(&mut self, p: &Packet) -> Result<(), Error> {
        self.s.write_all(&p.encode()?)?;
        Ok(())
    }

    fn recv(&mut self) -> Result<Packet, Error> {
        let mut len = [0u8; 4];
        self.s.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > MAX_PACKET {
            return Err(Error::Malformed(format!("packet length {len}")));
        }
        let mut body = vec![0; len];
        self.s.read_exact(&mut body)?;
        Packet::decode(&body)
    }

    fn register(&mut self, ty: u8, event: &str) -> Result<(), Error> {
        self.send(&Packet {
            ty,
            name: Some(event.into()),
            msg: Message::new(),
        })?;
        loop {
            let p = self.recv()?;
            match p.ty {
                packet::EVENT_CONFIRM => return Ok(()),
                packet::EVENT_UNKNOWN => return Err(Error::Unknown(event.into())),
                packet::EVENT => continue, // a late event of an earlier registration
                t => return Err(Error::Malformed(format!("packet type {t} to registration"))),
            }
        }
    }

    /// Sends command `cmd` and returns its response.  Events that arrive
    /// meanwhile (from registrations) are passed to `on_event`.
    pub fn request_with(
        &mut self,
        cmd: &str,
        msg: Message,
        mut on_event: impl FnMut(&str, Message),
    ) -> Result<Message, Error> {
        self.send(&Packet {
            ty: packet::CMD_REQUEST,
            name: Some(cmd.into()),
            msg,
        })?;
        loop {
            let p = self.recv()?;
            match p.ty {
                packet::CMD_RESPONSE => return Ok(p.msg),
                packet::CMD_UNKNOWN => return Err(Error::Unknown(cmd.into())),
                packet::EVENT => on_event(p.name.as_deref().unwrap_or(""), p.msg),
                t => return Err(Error::Malformed(format!("packet type {t} to request"))),
            }
        }
    }

    /// Sends command `cmd` and returns its response.
    pub fn request(&mut self, cmd: &str, msg: Message) -> Result<Message, Error> {
        self.request_with(cmd, msg, |_, _| {})
    }

    /// Runs a command that streams `event` messages (`list-sas` streams
    /// `list-sa`): registers, sends, collects, deregisters.
    pub fn streamed(
        &mut self,
        cmd: &str,
        event: &str,
        msg: Message,
    ) -> Result<(Vec<Message>, Message), Error> {
        self.register(packet::EVENT_REGISTER, event)?;
        let mut got = Vec::new();
        let resp = self.request_with(cmd, msg, |name, m| {
            if name == event {
                got.push(m)
            }
        })?;
        self.register(packet::EVENT_UNREGISTER, event)?;
        Ok((got, resp))
    }

    /// Runs `cmd` while registered for `events` (e.g. `ike-updown`,
    /// `child-updown`), handing each to `on_event`.
    pub fn request_following(
        &mut self,
        cmd: &str,
        msg: Message,
        events: &[&str],
        mut on_event: impl FnMut(&str, Message),
    ) -> Result<Message, Error> {
        for e in events {
            self.register(packet::EVENT_REGISTER, e)?;
        }
        let resp = self.request_with(cmd, msg, &mut on_event)?;
        for e in events {
            self.register(packet::EVENT_UNREGISTER, e)?;
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that returns scripted bytes and records what is written.
    pub(crate) struct Script {
        pub input: io::Cursor<Vec<u8>>,
        pub output: Vec<u8>,
    }

    impl Read for Script {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            self.input.read(b)
        }
    }
    impl Write for Script {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.output.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn encodes_a_request_byte_for_byte() {
        let p = Packet {
            ty: packet::CMD_REQUEST,
            name: Some("initiate".into()),
            msg: Message::new()
                .kv("child", "net")
                .kv("timeout", "5000")
                .section("s", Message::new().list("l", &["a", "bc"])),
        };
        #[rustfmt::skip]
        let want: Vec<u8> = [
            &[0, 0, 0, 54][..],                     // length: 10+12+15+3+3+4+5+1+1
            &[0, 8], b"initiate",                   // CMD_REQUEST "initiate"
            &[3, 5], b"child", &[0, 3], b"net",     // child = net
            &[3, 7], b"timeout", &[0, 4], b"5000",  // timeout = 5000
            &[1, 1], b"s",                          // section s {
            &[4, 1], b"l",                          //   list l [
            &[5, 0, 1], b"a", &[5, 0, 2], b"bc",    //     a, bc
            &[6],                                   //   ]
            &[2],                                   // }
        ].concat();
        assert_eq!(p.encode().unwrap(), want);
        assert_eq!(Packet::decode(&want[4..]).unwrap(), p);
    }

    #[test]
    fn decodes_nested_and_rejects_garbage() {
        let m = Message::new()
            .kv("a", "1")
            .section(
                "x",
                Message::new().section("y", Message::new().kv("b", "2")),
            )
            .list("l", &[]);
        let mut b = Vec::new();
        m.encode(&mut b).unwrap();
        assert_eq!(Message::decode(&b).unwrap(), m);
        for bad in [
            &[9u8][..],             // unknown element
            &[1, 1, b'x'],          // unclosed section
            &[2],                   // stray end
            &[3, 1, b'k', 0, 5, 1], // truncated value
            &[4, 1, b'l', 3],       // key/value inside a list
        ] {
            assert!(Message::decode(bad).is_err(), "{bad:?}");
        }
        // Every truncation of a valid message fails cleanly (no panic).
        for n in 0..b.len() {
            let _ = Message::decode(&b[..n]);
        }
    }

    fn framed(p: Packet) -> Vec<u8> {
        p.encode().unwrap()
    }

    #[test]
    fn streamed_command_collects_events() {
        let sa = Message::new().section(
            "conn",
            Message::new()
                .kv("uniqueid", "7")
                .kv("remote-host", "192.0.2.1"),
        );
        let input = [
            framed(Packet {
                ty: packet::EVENT_CONFIRM,
                name: None,
                msg: Message::new(),
            }),
            framed(Packet {
                ty: packet::EVENT,
                name: Some("list-sa".into()),
                msg: sa.clone(),
            }),
            framed(Packet {
                ty: packet::CMD_RESPONSE,
                name: None,
                msg: Message::new(),
            }),
            framed(Packet {
                ty: packet::EVENT_CONFIRM,
                name: None,
                msg: Message::new(),
            }),
        ]
        .concat();
        let mut c = Client::new(Script {
            input: io::Cursor::new(input),
            output: Vec::new(),
        });
        let (evs, _) = c
            .streamed("list-sas", "list-sa", Message::new().kv("noblock", "yes"))
            .unwrap();
        assert_eq!(evs, vec![sa]);
        let out = c.into_inner().output;
        let want = [
            framed(Packet {
                ty: packet::EVENT_REGISTER,
                name: Some("list-sa".into()),
                msg: Message::new(),
            }),
            framed(Packet {
                ty: packet::CMD_REQUEST,
                name: Some("list-sas".into()),
                msg: Message::new().kv("noblock", "yes"),
            }),
            framed(Packet {
                ty: packet::EVENT_UNREGISTER,
                name: Some("list-sa".into()),
                msg: Message::new(),
            }),
        ]
        .concat();
        assert_eq!(out, want);
    }

    #[test]
    fn failures_are_reported() {
        let input = [framed(Packet {
            ty: packet::CMD_UNKNOWN,
            name: None,
            msg: Message::new(),
        })]
        .concat();
        let mut c = Client::new(Script {
            input: io::Cursor::new(input),
            output: Vec::new(),
        });
        assert!(matches!(
            c.request("bogus", Message::new()),
            Err(Error::Unknown(_))
        ));
        let r = Message::new()
            .kv("success", "no")
            .kv("errmsg", "CHILD_SA 'x' not found");
        assert_eq!(
            r.check_success().unwrap_err().to_string(),
            "vici: CHILD_SA 'x' not found"
        );
        assert!(Message::new().kv("success", "yes").check_success().is_ok());
        // A closed socket (charon gone) is an I/O error, not a hang.
        let mut c = Client::new(Script {
            input: io::Cursor::new(vec![]),
            output: Vec::new(),
        });
        assert!(matches!(
            c.request("version", Message::new()),
            Err(Error::Io(_))
        ));
    }
}

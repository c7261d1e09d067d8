// SPDX-License-Identifier: GPL-2.0

//! The real transport: a `NETLINK_GENERIC` socket.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use crate::wire::SOL_NETLINK;
use crate::wire::{NETLINK_ADD_MEMBERSHIP, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GENERIC};
use crate::Transport;

/// Receive buffer size: generic-netlink dumps fill at most a few pages per
/// datagram; 64 KiB leaves a wide margin, and truncation is detected anyway.
const RECV_BUF: usize = 64 * 1024;

/// A bound `NETLINK_GENERIC` socket with extended ACKs enabled.
pub struct Socket {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Socket {
    /// Opens and binds a socket (the kernel picks the port id), and enables
    /// extended ACKs and capped ACKs.
    pub fn open() -> io::Result<Self> {
        // SAFETY: plain syscall with constant arguments; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_GENERIC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: an all-zero `sockaddr_nl` is valid (pid 0: kernel assigns).
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `sa` is a valid `sockaddr_nl` and the length matches it.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let s = Socket {
            fd,
            buf: vec![0; RECV_BUF],
        };
        // Older kernels lack these; the tool still works, only less verbose.
        if let Err(e) = s.setsockopt_int(NETLINK_EXT_ACK, 1) {
            tracing::debug!("NETLINK_EXT_ACK not available: {e}");
        }
        if let Err(e) = s.setsockopt_int(NETLINK_CAP_ACK, 1) {
            tracing::debug!("NETLINK_CAP_ACK not available: {e}");
        }
        Ok(s)
    }

    fn setsockopt_int(&self, opt: i32, val: i32) -> io::Result<()> {
        // SAFETY: `val` lives across the call and the length matches its type.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                SOL_NETLINK,
                opt,
                (&val as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Waits until the socket is readable; `false` on timeout.
    fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let ms = match timeout {
            None => -1,
            Some(d) => d.as_millis().min(i32::MAX as u128) as i32,
        };
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: `pfd` is one valid pollfd for the duration of the call.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            return Ok(rc > 0);
        }
    }
}

impl Transport for Socket {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        // SAFETY: an all-zero `sockaddr_nl` addresses the kernel (pid 0).
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        loop {
            // SAFETY: `msg` and `sa` are valid for the given lengths.
            let rc = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    msg.as_ptr().cast(),
                    msg.len(),
                    0,
                    (&sa as *const libc::sockaddr_nl).cast(),
                    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            return Ok(());
        }
    }

    fn recv(&mut self, timeout: Option<Duration>) -> io::Result<Option<Vec<u8>>> {
        if !self.wait_readable(timeout)? {
            return Ok(None);
        }
        loop {
            // SAFETY: `buf` is valid for writes of its length.
            let rc = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let n = rc as usize;
            if n > self.buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("netlink datagram truncated ({n} bytes)"),
                ));
            }
            return Ok(Some(self.buf[..n].to_vec()));
        }
    }

    fn add_membership(&mut self, group: u32) -> io::Result<()> {
        self.setsockopt_int(NETLINK_ADD_MEMBERSHIP, group as i32)
    }
}

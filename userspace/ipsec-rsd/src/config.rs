// SPDX-License-Identifier: GPL-2.0

//! The daemon's TOML configuration.
//!
//! Recovery can be abused for denial of service (anyone can send ESP with a
//! bogus SPI from a spoofed address), so, as in the vendor guide, it is off
//! unless enabled, acts only towards statically configured peers, and is
//! rate-limited per peer and overall.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Default path of the configuration file.
pub const DEFAULT_PATH: &str = "/etc/ipsec-rs/ipsec-rsd.toml";

/// The whole configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Global recovery switch and limits.
    #[serde(default)]
    pub recovery: Recovery,
    /// How to reach the IKE daemon.
    #[serde(default)]
    pub vici: Vici,
    /// The libreswan back end.
    #[serde(default)]
    pub libreswan: Libreswan,
    /// Peers recovery may act towards; events from any other address are
    /// only logged.
    #[serde(default, rename = "peer")]
    pub peers: Vec<Peer>,
}

/// `[recovery]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Recovery {
    /// Act on invalid-SPI events at all (default: false).
    pub enabled: bool,
    /// Recovery attempts allowed per peer within `interval_secs` (default 1).
    pub per_peer_limit: u32,
    /// Recovery attempts allowed for all peers together within
    /// `interval_secs` (default 10).
    pub global_limit: u32,
    /// The limits' interval in seconds (default 60).
    pub interval_secs: u64,
    /// Which IKE daemon to drive (default strongswan).
    pub backend: BackendKind,
    /// Also send the unprotected RFC 7296 INVALID_SPI notification to the
    /// packet's source when acting (default true).
    pub invalid_spi_notify: bool,
    /// How long a recovery that failed because the IKE daemon is not
    /// reachable or has not loaded the connection yet is retried, once a
    /// second (default 30; 0: no retry).
    pub retry_secs: u64,
    /// Log the daemon's counters every this many seconds (0: only on
    /// SIGUSR1 and at exit; default 300).
    pub stats_interval_secs: u64,
    /// Also write the counters in the Prometheus text format to this file
    /// (replaced atomically every `metrics_interval_secs`, for
    /// node_exporter's textfile collector); empty: not written (default).
    pub metrics_file: String,
    /// How often `metrics_file` is rewritten, seconds (default 15).
    pub metrics_interval_secs: u64,
}

/// The IKE daemon recovery acts through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// strongSwan's charon, over VICI.
    #[default]
    Strongswan,
    /// libreswan's pluto, through `ipsec whack`.
    Libreswan,
}

impl Default for Recovery {
    fn default() -> Self {
        Recovery {
            enabled: false,
            per_peer_limit: 1,
            global_limit: 10,
            interval_secs: 60,
            backend: BackendKind::Strongswan,
            invalid_spi_notify: true,
            retry_secs: 30,
            stats_interval_secs: 300,
            metrics_file: String::new(),
            metrics_interval_secs: 15,
        }
    }
}

/// `[vici]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vici {
    /// strongSwan's VICI socket (default `/var/run/charon.vici`).
    pub socket: PathBuf,
    /// Time limit of one VICI command in seconds, `initiate` and
    /// `terminate` included (default 20).
    pub timeout_secs: u64,
}

impl Default for Vici {
    fn default() -> Self {
        Vici {
            socket: PathBuf::from("/var/run/charon.vici"),
            timeout_secs: 20,
        }
    }
}

/// `[libreswan]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Libreswan {
    /// The `ipsec` command (default `ipsec`, looked up in `PATH`).
    pub ipsec: PathBuf,
    /// `whack --initiate` the peer's connection when pluto has no SA with
    /// the peer, or its own re-establishment after `whack --crash` did not
    /// come up (default true).
    pub initiate: bool,
    /// Time limit of one `whack --initiate` in seconds (pluto keeps
    /// retransmitting for up to a minute; default 20). Status queries and
    /// `--crash` get at most 5 s.
    pub timeout_secs: u64,
}

impl Default for Libreswan {
    fn default() -> Self {
        Libreswan {
            ipsec: PathBuf::from("ipsec"),
            initiate: true,
            timeout_secs: 20,
        }
    }
}

/// One `[[peer]]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// The peer's outer address: source address of the invalid-SPI packets.
    pub address: IpAddr,
    /// The swanctl connection (IKE SA config) to use towards the peer.
    pub connection: String,
    /// The CHILD_SA to initiate when no IKE SA exists (default: all of the
    /// connection's children).
    #[serde(default)]
    pub child: Option<String>,
    /// Overrides `recovery.per_peer_limit` for this peer.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A configuration error.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("{path}: {source}")]
    Parse {
        /// The path.
        path: PathBuf,
        /// Why.
        source: toml::de::Error,
    },
    /// The values are inconsistent.
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Parses and validates `text`.
    pub fn from_toml(text: &str, path: &std::path::Path) -> Result<Self, ConfigError> {
        let c: Config = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.into(),
            source,
        })?;
        c.validate()?;
        Ok(c)
    }

    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Checks limits and peers.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let r = &self.recovery;
        if self.vici.timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "vici.timeout_secs must be at least 1".into(),
            ));
        }
        if self.libreswan.timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "libreswan.timeout_secs must be at least 1".into(),
            ));
        }
        if r.per_peer_limit == 0 || r.global_limit == 0 || r.interval_secs == 0 {
            return Err(ConfigError::Invalid(
                "recovery limits and interval must be at least 1".into(),
            ));
        }
        let mut seen = HashSet::new();
        for p in &self.peers {
            if !seen.insert(p.address) {
                return Err(ConfigError::Invalid(format!(
                    "peer {} listed twice",
                    p.address
                )));
            }
            if p.connection.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "peer {}: empty connection",
                    p.address
                )));
            }
            if p.limit == Some(0) {
                return Err(ConfigError::Invalid(format!(
                    "peer {}: limit must be >= 1",
                    p.address
                )));
            }
        }
        if r.enabled && self.peers.is_empty() {
            return Err(ConfigError::Invalid(
                "recovery is enabled but no [[peer]] is configured".into(),
            ));
        }
        Ok(())
    }

    /// The configured peer with outer address `addr`.
    pub fn peer(&self, addr: IpAddr) -> Option<&Peer> {
        self.peers.iter().find(|p| p.address == addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const EXAMPLE: &str = include_str!("../ipsec-rsd.toml.example");

    #[test]
    fn defaults_are_safe() {
        let c = Config::from_toml("", Path::new("x")).unwrap();
        assert!(!c.recovery.enabled);
        assert!(c.peers.is_empty());
        assert_eq!(c.recovery.per_peer_limit, 1);
    }

    #[test]
    fn example_parses() {
        let c = Config::from_toml(EXAMPLE, Path::new("example")).unwrap();
        assert!(!c.recovery.enabled);
        let p = c.peer("192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!(p.connection, "router-a");
        assert_eq!(p.child.as_deref(), Some("net-a"));
        assert!(c.peer("2001:db8::1".parse().unwrap()).is_some());
    }

    #[test]
    fn rejects_bad_configs() {
        for bad in [
            "[recovery]\nenabled = true\n",
            "[recovery]\nper_peer_limit = 0\n",
            "[recovery]\nbogus = 1\n",
            "[[peer]]\naddress = \"10.0.0.1\"\nconnection = \"a\"\n[[peer]]\naddress = \"10.0.0.1\"\nconnection = \"b\"\n",
            "[[peer]]\naddress = \"not-an-ip\"\nconnection = \"a\"\n",
            "[[peer]]\naddress = \"10.0.0.1\"\nconnection = \"\"\n",
            "[libreswan]\ntimeout_secs = 0\n",
        ] {
            assert!(Config::from_toml(bad, Path::new("x")).is_err(), "{bad}");
        }
    }

    #[test]
    fn roundtrips_through_toml() {
        let c = Config::from_toml(EXAMPLE, Path::new("example")).unwrap();
        let s = toml::to_string(&c).unwrap();
        assert_eq!(Config::from_toml(&s, Path::new("again")).unwrap(), c);
    }
}

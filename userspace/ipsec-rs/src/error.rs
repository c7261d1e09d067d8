// SPDX-License-Identifier: GPL-2.0

//! Errors of the tool and the exit code of each.

use ipsec_rs_core::nl::NlError;
use ipsec_rs_genl::Error as GenlError;

/// Exit codes (also listed in `--help` and `Documentation/userspace.rst`).
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Bad command line or a setting that fails validation.
    pub const USAGE: i32 = 1;
    /// The `ipsec_rs` generic-netlink family does not exist: module not loaded.
    pub const NOT_LOADED: i32 = 2;
    /// `EPERM`/`EACCES`: the caller lacks `CAP_NET_ADMIN`.
    pub const PERMISSION: i32 = 3;
    /// Any other error reported by the kernel (its message is shown), or a
    /// socket failure.
    pub const KERNEL: i32 = 4;
    /// `monitor --count N --timeout S`: fewer than N events before the timeout.
    pub const TIMEOUT: i32 = 5;
}

/// Exit-code summary for `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  usage or validation error (nothing was sent to the kernel)
  2  the ipsec_rs module is not loaded (generic netlink family not found)
  3  permission denied: the operation needs CAP_NET_ADMIN
  4  other error reported by the kernel (its message is shown verbatim) or socket failure
  5  monitor: --timeout expired before --count events arrived";

/// An error of the tool.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Invalid arguments or settings, detected before talking to the kernel.
    #[error("{0}")]
    Usage(String),
    /// Netlink failure.
    #[error(transparent)]
    Netlink(#[from] GenlError),
    /// A reply the tool cannot decode.
    #[error("unexpected reply from the module: {0}")]
    Reply(String),
    /// Writing the output failed.
    #[error("output: {0}")]
    Output(#[from] std::io::Error),
    /// `monitor` timed out before receiving the requested number of events.
    #[error("timed out after {got} of {want} events")]
    Timeout {
        /// Events received.
        got: u64,
        /// Events requested.
        want: u64,
    },
}

impl From<ipsec_rs_genl::family::FamilyError> for AppError {
    fn from(e: ipsec_rs_genl::family::FamilyError) -> Self {
        use ipsec_rs_genl::family::FamilyError;
        match e {
            FamilyError::Netlink(e) => AppError::Netlink(e),
            FamilyError::Invalid(e) => AppError::validation(e),
            FamilyError::Reply(r) => AppError::Reply(r),
        }
    }
}

impl AppError {
    /// A validation error from the core's checks.
    pub fn validation(e: NlError) -> Self {
        AppError::Usage(format!("invalid setting: {}", e.msg))
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Usage(_) => exit::USAGE,
            AppError::Netlink(GenlError::FamilyNotFound(_)) => exit::NOT_LOADED,
            AppError::Netlink(e) if e.is_permission() => exit::PERMISSION,
            AppError::Netlink(_) | AppError::Reply(_) | AppError::Output(_) => exit::KERNEL,
            AppError::Timeout { .. } => exit::TIMEOUT,
        }
    }

    /// The message for the user: says what to do where we know.
    pub fn message(&self) -> String {
        match self {
            AppError::Netlink(GenlError::FamilyNotFound(f)) => format!(
                "the ipsec_rs module is not loaded (generic netlink family '{f}' not found); \
                 load it with 'modprobe ipsec_rs' or 'insmod ipsec_rs.ko'"
            ),
            AppError::Netlink(e) if e.is_permission() => {
                let detail = match e {
                    GenlError::Kernel { msg: Some(m), .. } => format!(" (kernel: {m})"),
                    _ => String::new(),
                };
                format!(
                    "permission denied: this operation needs CAP_NET_ADMIN (run as root){detail}"
                )
            }
            AppError::Netlink(GenlError::Kernel {
                msg: Some(m),
                errno,
                ..
            }) => {
                format!(
                    "kernel: {m} ({})",
                    std::io::Error::from_raw_os_error(*errno)
                )
            }
            AppError::Netlink(GenlError::Kernel {
                msg: None, errno, ..
            }) if *errno == libc::EOPNOTSUPP => {
                format!(
                    "kernel: the loaded ipsec_rs module does not implement this command ({})",
                    std::io::Error::from_raw_os_error(*errno)
                )
            }
            AppError::Netlink(GenlError::Kernel {
                msg: None, errno, ..
            }) => {
                format!("kernel: {}", std::io::Error::from_raw_os_error(*errno))
            }
            other => other.to_string(),
        }
    }
}

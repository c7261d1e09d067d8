// SPDX-License-Identifier: GPL-2.0

//! Against the running kernel's own controller family, which always exists.

use ipsec_rs_genl::{wire, Client, Error, Socket};

#[test]
fn resolves_nlctrl_and_reports_missing_family() {
    let Ok(sock) = Socket::open() else {
        eprintln!("no netlink socket here; skipping");
        return;
    };
    let c = Client::connect(sock, "nlctrl").expect("nlctrl resolves");
    assert_eq!(c.family().id, 0x10);
    assert!(c.family().groups.iter().any(|(n, _)| n == "notify"));
    let e = Client::connect(Socket::open().unwrap(), "no_such_fam")
        .err()
        .unwrap();
    assert!(matches!(e, Error::FamilyNotFound(_)), "{e:?}");
}

#[test]
fn extended_ack_message_from_the_kernel() {
    let Ok(sock) = Socket::open() else { return };
    // Longer than GENL_NAMSIZ: the controller's policy rejects it with an
    // extended ACK naming the attribute.
    let e = Client::connect(sock, "a_family_name_far_too_long")
        .err()
        .unwrap();
    match e {
        Error::Kernel { errno, msg, offset } => {
            assert_eq!(errno, libc::EINVAL);
            assert!(msg.is_some(), "no extack message");
            // nlmsghdr (16) + genlmsghdr (4): the first attribute.
            assert_eq!(offset, Some(20));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn kernel_error_carries_errno() {
    let Ok(sock) = Socket::open() else { return };
    let mut c = Client::connect(sock, "nlctrl").unwrap();
    // nlctrl has no command 200.
    let e = c.request(200, 2, &[], false).err().unwrap();
    assert_eq!(e.errno(), Some(libc::EOPNOTSUPP), "{e:?}");
}

#[test]
fn dump_of_families_ends_with_done() {
    let Ok(sock) = Socket::open() else { return };
    let mut c = Client::connect(sock, "nlctrl").unwrap();
    // CTRL_CMD_GETFAMILY as a dump lists every family, nlctrl included.
    let all = c.request(3, 2, &[], true).unwrap();
    let names: Vec<String> = all
        .iter()
        .flat_map(|m| wire::attrs(&m.attrs).collect::<Vec<_>>())
        .filter(|a| a.kind == wire::CTRL_ATTR_FAMILY_NAME)
        .map(|a| wire::get_str(a.payload))
        .collect();
    assert!(names.iter().any(|n| n == "nlctrl"), "{names:?}");
}

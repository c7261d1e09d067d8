// SPDX-License-Identifier: GPL-2.0

//! The built binary: exit codes and messages on a machine that may or may not
//! have the module loaded.

use assert_cmd::Command;
use predicates::prelude::*;

fn tool() -> Command {
    Command::cargo_bin("ipsec-rs").unwrap()
}

fn module_loaded() -> bool {
    std::path::Path::new("/sys/module/ipsec_rs").exists()
}

#[test]
fn stats_json_without_module_exits_2() {
    let a = tool().args(["stats", "--json"]).assert();
    if module_loaded() {
        let out = a.success().get_output().stdout.clone();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("{\"esp_v4\":"), "{s}");
    } else {
        a.code(2)
            .stdout("")
            .stderr(predicate::str::contains("module is not loaded"));
    }
}

#[test]
fn monitor_without_module_exits_2() {
    if module_loaded() {
        return;
    }
    tool()
        .args(["monitor", "--count", "1", "--timeout", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not loaded"));
}

#[test]
fn validation_error_exits_1_before_netlink() {
    tool()
        .args(["set", "global", "--replay-window", "8"])
        .assert()
        .code(1)
        .stderr("ipsec-rs: invalid setting: replay window must be 32..1048576\n");
    tool()
        .args([
            "set",
            "sa",
            "10.0.0.1",
            "0x10",
            "--replay-window",
            "99999999",
        ])
        .assert()
        .code(1);
}

#[test]
fn usage_errors_exit_1() {
    tool().arg("frobnicate").assert().code(1);
    tool()
        .args(["set", "global", "--df-mode", "maybe"])
        .assert()
        .code(1);
    tool().assert().code(1);
}

#[test]
fn help_lists_exit_codes() {
    tool()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes:"))
        .stdout(predicate::str::contains("CAP_NET_ADMIN"));
    tool().args(["set", "global", "--help"]).assert().success();
}

#[test]
fn completions() {
    tool()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ipsec-rs"));
}

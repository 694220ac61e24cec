//! A local AWS for the demo and for trying eksaudit by hand: moto behind the same proxy the tests use.
//! Prints the endpoint to give eksaudit (`--endpoint-url`), then moto's own endpoint for setup, and runs until
//! its standard input closes.

use std::io::{BufRead, Write};

fn main() {
    let moto = eksaudit_test_support::Moto::start();
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", moto.endpoint());
    let _ = writeln!(out, "{}", moto.direct_endpoint());
    let _ = out.flush();
    let stdin = std::io::stdin();
    let mut line = String::new();
    while stdin.lock().read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
        line.clear();
    }
}

//! The one integration-test binary: every module drives the real `eksaudit` binary or the real AWS SDK against
//! a fresh local moto server. Nothing here talks to real AWS.

mod accounts;
mod alerts;
mod apply;
mod calls;
mod cli;
mod consumers;
mod crash;
mod deploy;
mod drift;
mod eks;
mod faults;
mod filter;
mod init;
mod moto;
mod order;
mod parliament;
mod plan;
mod policy;
mod quotas;
mod readback;
mod readme;
mod security;
mod status;
mod support;
mod terminal;
mod unselected;

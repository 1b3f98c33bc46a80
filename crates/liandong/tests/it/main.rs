//! Integration tests: the real server on a random loopback port, a temporary database per
//! test, driven over HTTP (and, in `browser`, by headless Chromium).

mod audit;
mod browser;
mod cli;
mod compare;
mod compare_server;
mod helpers;
mod import;
mod monthly;
mod openapi;
mod pages;
mod registry;
mod roster;
mod scope;
mod scoring;
mod session;
